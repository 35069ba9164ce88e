"""JSON logs with a request id on every line, one access line per request.

Nothing here reads request headers other than ``X-Request-ID``, and no body, token or
``Authorization`` value is ever bound or logged. Exceptions are logged as their type and
stack frames only (file, line, function): a message or a frame's locals may hold a token
or a payload. Every line is capped at ``MAX_LINE_CHARS``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any, TextIO

import structlog
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flightlog.server.problems import problem_response

REQUEST_ID_HEADER = "x-request-id"
# Client-chosen ids are echoed into logs and headers, so only a safe alphabet passes.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

MAX_LINE_CHARS = 8192
"""No log line is longer: a flood of large lines must not fill the disk or stall the server."""
MAX_VALUE_CHARS = 512
MAX_FRAMES = 30

error_log = structlog.get_logger("flightlog.server")


class StderrLogger:
    """Writes each line to ``sys.stderr`` as it is at the time of the call."""

    _lock = threading.Lock()

    def msg(self, message: str) -> None:
        """Write one line and flush it."""
        # Looked up per line, not per logger, so a redirected sys.stderr (tests, daemons)
        # is honoured while loggers stay cached.
        stream: TextIO = sys.stderr
        with self._lock:
            stream.write(message + "\n")
            stream.flush()

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _stderr_logger(*_args: Any) -> StderrLogger:
    return StderrLogger()


def _exception_summary(exc_info: Any) -> dict[str, Any] | None:
    """The type and frames of an exception: no message, no locals, no chained values."""
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if not isinstance(exc_info, tuple) or exc_info[0] is None:
        return None
    frames = [
        f"{frame.filename}:{frame.lineno} {frame.name}"
        for frame in traceback.extract_tb(exc_info[2])[-MAX_FRAMES:]
    ]
    return {"type": f"{exc_info[0].__module__}.{exc_info[0].__qualname__}", "frames": frames}


def redact_exception(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace ``exc_info`` by the exception's type and frames (see the module docstring)."""
    exc_info = event_dict.pop("exc_info", None)
    event_dict.pop("exception", None)
    summary = _exception_summary(exc_info)
    if summary is not None:
        event_dict["exception"] = summary
    return event_dict


def _capped(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return value[:MAX_VALUE_CHARS] + f"…(+{len(value) - MAX_VALUE_CHARS} chars)"
    return value


def cap_values(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Cut long string values so a single field cannot blow up a line."""
    return {key: _capped(value) for key, value in event_dict.items()}


class CappedJSONRenderer:
    """JSON lines of at most ``MAX_LINE_CHARS`` characters (longer ones are cut, marked)."""

    def __init__(self) -> None:
        self._json = structlog.processors.JSONRenderer()

    def __call__(self, logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> str:
        """Render one line."""
        line = str(self._json(logger, method, event_dict))
        if len(line) <= MAX_LINE_CHARS:
            return line
        kept: dict[str, Any] = {
            k: event_dict[k] for k in ("timestamp", "level", "event") if k in event_dict
        }
        kept["truncated_chars"] = len(line)
        return str(self._json(logger, method, kept))[:MAX_LINE_CHARS]


def configure_logging() -> None:
    """Send structlog output as JSON lines to stderr, with contextvars merged in."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_exception,
            cap_values,
            CappedJSONRenderer(),
        ],
        logger_factory=_stderr_logger,
        # Building the bound logger on every call cost more than rendering the line.
        cache_logger_on_first_use=True,
    )


def uvicorn_log_config() -> dict[str, Any]:
    """A ``logging.config`` dict that renders uvicorn's own lines as JSON like ours."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    redact_exception,
                    cap_values,
                    CappedJSONRenderer(),
                ],
                "foreign_pre_chain": [
                    structlog.contextvars.merge_contextvars,
                    structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                ],
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def request_id_from(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` when it is safe to echo, else a fresh one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = bytes(value).decode("latin-1")
            if _SAFE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    # 128 random bits as 32 hex digits, without building a UUID object.
    return os.urandom(16).hex()


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/api/v1/events/{index}``), never the raw path."""
    path: object = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    # Plain Starlette routes (the OpenAPI document, the docs) leave only their endpoint.
    endpoint = scope.get("endpoint")
    app = scope.get("app")
    if endpoint is not None and app is not None:
        for route in getattr(app, "routes", ()):
            if getattr(route, "endpoint", None) is endpoint:
                return str(route.path)
    return "<unmatched>"


_ACCESS_HEADS: dict[tuple[str, str], str] = {}
_MAX_ACCESS_HEADS = 256  # route templates times methods; anything beyond is rendered each time


def _access_head(method: str, route: str) -> str:
    head = _ACCESS_HEADS.get((method, route))
    if head is None:
        head = json.dumps({"method": _capped(method), "route": _capped(route)})[:-1]
        if len(_ACCESS_HEADS) < _MAX_ACCESS_HEADS:
            _ACCESS_HEADS[method, route] = head
    return head


def access_line(method: str, route: str, status: int, duration_ms: float, request_id: str) -> str:
    """The access line, as the structlog chain would render it with only the request id bound.

    Rendered directly: the processor chain cost more than the rest of a small request's
    logging. Same keys in the same order, the same timestamp and value caps; the request
    id is from :func:`request_id_from` (a safe alphabet), so it needs no JSON escaping.
    """
    stamp = datetime.now(tz=UTC).isoformat().replace("+00:00", "Z")
    return (
        f'{_access_head(method, route)}, "status": {status}, "duration_ms": {duration_ms!r}, '
        f'"event": "request", "request_id": "{request_id}", "level": "info", '
        f'"timestamp": "{stamp}"}}'
    )


_STDERR = StderrLogger()


Observe = Callable[[str, str, float], None]
"""Records one request's duration: ``observe(route, method, seconds)``."""


class RequestContextMiddleware:
    """Bind a request id, echo it, log one access line, and turn escaped bugs into 500s.

    The same measured duration goes to the access line and, through ``observe``, to the
    latency histogram, so one middleware layer serves both.
    """

    def __init__(self, app: ASGIApp, observe: Observe | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # The client gave up mid-upload: nothing to answer, nothing to debug.
            status = 499
            error_log.info(
                "client_disconnected", method=scope.get("method"), route=route_template(scope)
            )
        except Exception:
            # The catch-all: only real bugs get here; every expected failure is a
            # domain error with its own status.
            error_log.exception(
                "unhandled_error", method=scope.get("method"), route=route_template(scope)
            )
            if response_started:
                raise
            response = problem_response(
                500,
                "an internal error occurred; it was logged with this request id",
                slug="internal",
                title="Internal error",
                request_id=request_id,
            )
            await response(scope, receive, send_with_id)
        finally:
            route = route_template(scope)
            method = str(scope.get("method", ""))
            elapsed = time.perf_counter() - started
            if self.observe is not None:
                self.observe(route, method, elapsed)
            # Capped method and route: the line stays far below MAX_LINE_CHARS.
            _STDERR.msg(access_line(method, route, status, round(elapsed * 1000, 3), request_id))
            structlog.contextvars.reset_contextvars(**bound)
