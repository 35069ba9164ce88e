"""The ingest fast path: ``POST /api/v1/events``, ``/events/batch`` and the webhooks as plain ASGI.

FastAPI's request machinery (its telemetry check, body-limit and exception layers,
routing, dependency solving, response rendering) costs more per request than
validating and appending a small event, so :class:`FastIngestAPI` hands these
routes to :class:`FastIngest` before any of it runs, wrapped only in the app's own
middleware (request ids, access log, metrics, and whatever else the app adds). It calls
the same endpoint functions the FastAPI routes declare (so /openapi.json documents
exactly what is served) and renders errors with the app's own exception handlers, so
every answer is the one FastAPI would give. The single-event route goes further: it is
answered from the raw ASGI scope and sent as two ASGI messages (:data:`LEAN_ROUTES`),
and Starlette's request and response objects are built only when an error needs the
app's exception handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from flightlog.server import ingest, webhooks
from flightlog.wire import JSON_MEDIA_TYPE

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Exception], Awaitable[Response] | Response]

FAST_ROUTES: dict[str, Endpoint] = {
    "/api/v1/events": ingest.post_event,
    "/api/v1/events/batch": ingest.post_batch,
    **webhooks.RECEIVERS,
}
"""The POST paths answered before FastAPI, and the endpoint that answers each."""

LeanEndpoint = Callable[[Scope, Receive], Awaitable[tuple[int, bytes, str | None]]]

LEAN_ROUTES: dict[str, LeanEndpoint] = {"/api/v1/events": ingest.answer_event}
"""Fast routes answered without Starlette's request and response objects (except on errors)."""

JSON_BYTES = JSON_MEDIA_TYPE.encode("ascii")


def _find_route(routes: list[BaseRoute], path: str) -> BaseRoute | None:
    for route in routes:
        if getattr(route, "path", None) == path and "POST" in (getattr(route, "methods", ()) or ()):
            return route
    return None


class FastIngest:
    """ASGI middleware answering the ingest routes itself and passing everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: dict[str, BaseRoute | None] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        endpoint = FAST_ROUTES.get(scope.get("path", "")) if scope["type"] == "http" else None
        if endpoint is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        owner = scope["app"]
        path = scope["path"]
        if path not in self._routes:
            self._routes[path] = _find_route(owner.routes, path)
        # The access log and the latency histogram name the route template, as for
        # requests FastAPI routed.
        scope["route"] = self._routes[path]
        lean = LEAN_ROUTES.get(path)
        if lean is not None:
            try:
                status, body, location = await lean(scope, receive)
            except Exception as exc:
                response = await _problem(owner, Request(scope, receive), exc)
            else:
                await send_json(send, status, body, location)
                return
        else:
            request = Request(scope, receive)
            try:
                response = await endpoint(request)
            except Exception as exc:
                response = await _problem(owner, request, exc)
        await response(scope, receive, send)


async def _problem(owner: FastAPI, request: Request, exc: Exception) -> Response:
    """The app's answer to ``exc`` (its own exception handler), or ``exc`` raised again."""
    handler = _handler_for(owner.exception_handlers, exc)
    if handler is None:
        raise exc
    answer = handler(request, exc)
    return await answer if isinstance(answer, Awaitable) else answer


async def send_json(send: Send, status: int, body: bytes, location: str | None) -> None:
    """Send a JSON answer as two ASGI messages, the headers Starlette's ``Response`` would set."""
    headers = [(b"content-length", b"%d" % len(body)), (b"content-type", JSON_BYTES)]
    if location is not None:
        headers.insert(0, (b"location", location.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _handler_for(handlers: dict[object, Handler], exc: Exception) -> Handler | None:
    # The same lookup as Starlette's ExceptionMiddleware: a handler for an HTTP error's
    # status first, then the most specific class.
    if isinstance(exc, HTTPException) and exc.status_code in handlers:
        return handlers[exc.status_code]
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None


class FastIngestAPI(FastAPI):
    """A FastAPI app whose ingest POSTs go to :class:`FastIngest` ahead of FastAPI."""

    _ingest: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch one ASGI connection."""
        if (
            scope["type"] == "http"
            and scope.get("path") in FAST_ROUTES
            and scope.get("method") == "POST"
        ):
            if self._ingest is None:
                self._ingest = self._ingest_stack()
            if self.root_path:
                scope["root_path"] = self.root_path
            scope["app"] = self
            await self._ingest(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def _ingest_stack(self) -> ASGIApp:
        # The app's own middleware, outermost first, as Starlette would stack it.
        app: ASGIApp = FastIngest(super().__call__)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app
