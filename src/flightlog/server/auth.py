"""Bearer-token authentication (RFC 6750) as FastAPI dependencies, one per scope."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from flightlog.auth.tokens import TokenCache, TokenInfo, require_scope
from flightlog.errors import AuthError
from flightlog.server.state import ServerState, server_state

# auto_error=False: a missing or non-Bearer header becomes our own 401 problem
# (with the WWW-Authenticate challenge) instead of FastAPI's default answer.
bearer = HTTPBearer(auto_error=False, description="A Flightlog API token (`fl_…`).")


BEARER_SECURITY: list[dict[str, list[str]]] = [{"HTTPBearer": []}]
"""The OpenAPI security requirement of routes that call :func:`authorize` themselves."""


async def check_token(
    request: Request, secret: str, scope: str, state: ServerState | None = None
) -> TokenInfo:
    """Authenticate ``secret`` (cached) and demand ``scope``."""
    return await scoped_token((state or server_state(request)).token_cache, secret, scope)


async def scoped_token(cache: TokenCache, secret: str, scope: str) -> TokenInfo:
    """Authenticate ``secret`` through ``cache`` and demand ``scope``."""
    # A fresh cache hit is a dict lookup; only a miss goes to the database (in a thread).
    info = cache.cached(secret)
    if info is None:
        info = await run_in_threadpool(cache.authenticate, secret)
    require_scope(info, scope)
    return info


def bearer_secret(authorization: str) -> str:
    """The token of an ``Authorization: Bearer …`` value; AuthError when there is none."""
    scheme, _, secret = authorization.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise AuthError("missing bearer token")
    return secret


async def authorize(request: Request, scope: str, state: ServerState | None = None) -> TokenInfo:
    """Authenticate the request's bearer token without the dependency machinery.

    The ingest routes call this directly: FastAPI's dependency solving costs more per
    request than the rest of a small event's ingest path.
    """
    secret = bearer_secret(request.headers.get("authorization", ""))
    return await check_token(request, secret, scope, state)


def require(scope: str) -> Callable[..., object]:
    """A dependency that authenticates the bearer token and demands ``scope``."""

    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    ) -> TokenInfo:
        if credentials is None:
            raise AuthError("missing bearer token")
        return await check_token(request, credentials.credentials, scope)

    dependency.__name__ = f"require_{scope}"
    return dependency
