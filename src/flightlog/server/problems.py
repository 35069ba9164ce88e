"""RFC 9457 problem details: every error the API answers is ``application/problem+json``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import sqlalchemy as sa
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from flightlog.errors import AuthError, FlightlogError, ForbiddenError
from flightlog.wire import (
    PROBLEM_BASE,
    PROBLEM_MEDIA_TYPE,
    problem_extensions,
    problem_kind,
)

log = structlog.get_logger("flightlog.server")


class Problem(BaseModel):
    """The wire shape of a problem document (RFC 9457 §3) with Flightlog's extensions."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    reason: str | None = None
    path: str | None = None
    position: str | None = None
    item: int | None = None
    original_index: int | None = None


def problem_response(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """A problem+json response; without ``slug`` the type is ``about:blank`` (RFC 9457 §4.2.1)."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug if slug else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail,
    }
    body.update({k: v for k, v in extensions.items() if v is not None})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def _challenge(exc: FlightlogError) -> dict[str, str] | None:
    # RFC 6750 §3: a request without a token gets a bare challenge; a bad token or a
    # missing scope names the error.
    if isinstance(exc, ForbiddenError):
        return {"WWW-Authenticate": 'Bearer error="insufficient_scope"'}
    if isinstance(exc, AuthError):
        bare = str(exc).startswith("missing")
        return {"WWW-Authenticate": "Bearer" if bare else 'Bearer error="invalid_token"'}
    return None


def domain_problem(exc: FlightlogError) -> JSONResponse:
    """Map a domain error to its status code and problem document."""
    kind = problem_kind(exc)
    return problem_response(
        kind.status,
        str(exc),
        slug=kind.slug,
        title=kind.title,
        headers=_challenge(exc),
        **problem_extensions(exc),
    )


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


async def _on_domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FlightlogError)
    return domain_problem(exc)


async def _on_database_down(_request: Request, exc: Exception) -> JSONResponse:
    # The driver's message may name hosts and users; the log keeps it, the client
    # gets the status and a generic line.
    log.warning("database_unavailable", error=type(exc).__name__)
    return problem_response(
        503,
        "the database is unavailable; retry later",
        slug="store-unavailable",
        title="Store unavailable",
        headers={"Retry-After": "5"},
    )


async def _on_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem_response(exc.status_code, detail, headers=dict(exc.headers or {}))


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Only location and message: echoing the rejected input could leak secrets.
    errors = [
        {"loc": _loc(tuple(e.get("loc", ()))), "msg": str(e.get("msg", ""))} for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": "", "msg": "invalid request"}
    return problem_response(
        422,
        f"{first['loc']}: {first['msg']}",
        slug="request-invalid",
        title="Invalid request",
        path=first["loc"],
        errors=errors,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Render domain errors, HTTP errors and request validation errors as problems."""
    app.add_exception_handler(FlightlogError, _on_domain_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(sa.exc.OperationalError, _on_database_down)
    app.add_exception_handler(sa.exc.InterfaceError, _on_database_down)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem+json answers for ``statuses``."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "model": Problem,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
