"""The HTTP contract, imported by the server and the client alike.

Routes, query parameters, limits, and the table that maps each error class to its
problem type and status (RFC 9457): the server reads it one way, the client the other.
This module imports no web framework and no HTTP library, so both sides (and the
fast-starting CLI) can load it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flightlog.errors import (
    AuthError,
    ConflictError,
    EventInvalid,
    FlightlogError,
    ForbiddenError,
    InputError,
    InputTooLarge,
    MalformedInput,
    NotFound,
    StoreError,
    UnknownEventType,
)

API_PREFIX = "/api/v1"
EVENTS = "/events"
EVENTS_BATCH = "/events/batch"
EVENT = "/events/{index}"
CHECKPOINT = "/checkpoint"
PROOF_INCLUSION = "/proof/inclusion"
PROOF_CONSISTENCY = "/proof/consistency"
KEY = "/key"
BLOB = "/blobs/{sha256}"
BLOBS = "/blobs"
TRACE = "/trace/{environment}/{service}"
DIFF = "/diff"
SUSPECTS = "/suspects"
SEARCH = "/search"
TIMELINE = "/timeline"

JSON_MEDIA_TYPE = "application/json"
PROBLEM_MEDIA_TYPE = "application/problem+json"
TEXT_MEDIA_TYPE = "text/plain; charset=utf-8"

MAX_BATCH_EVENTS = 10_000
"""The most events one batch request may hold; more answers 413."""
MAX_BATCH_BYTES = 4 * 1024 * 1024
"""What a client packs into one batch request: under the default 5 MiB body limit."""
MAX_PAGE = 1000
"""The largest page ``GET /api/v1/events`` serves; longer listings follow ``next_cursor``."""
DEFAULT_PAGE = 100
MAX_EVENT_BYTES = 1024 * 1024
"""The largest single event (canonical bytes) the ledger accepts; evidence files belong elsewhere."""
MAX_INDEX = 2**63 - 1
"""Indices and sizes are 64-bit in the store; larger numbers cannot name anything."""

FILTER_PARAMS: Mapping[str, str] = {
    "type": "type",
    "service": "service",
    "environment": "env",
    "commit": "commit",
    "artifact": "artifact",
    "ticket": "ticket",
    "actor": "actor",
    "since": "since",
    "until": "until",
}
"""``EventFilter`` field → query parameter of ``GET /api/v1/events``."""
CURSOR_PARAM = "cursor"
LIMIT_PARAM = "limit"
ORDER_PARAM = "order"

# Problem type URIs are identifiers (RFC 9457 §3.1.1): stable, not meant to be fetched.
PROBLEM_BASE = "urn:flightlog:problem:"


@dataclass(frozen=True)
class ProblemKind:
    """One row of the error table: an error class, its status, problem type and title."""

    error: type[FlightlogError]
    status: int
    slug: str
    title: str

    @property
    def type_uri(self) -> str:
        """The problem ``type`` member."""
        return PROBLEM_BASE + self.slug


# Most specific class first: the first isinstance match decides.
PROBLEMS: tuple[ProblemKind, ...] = (
    ProblemKind(UnknownEventType, 422, "unknown-event-type", "Unknown event type"),
    ProblemKind(EventInvalid, 422, "event-invalid", "Invalid event"),
    ProblemKind(MalformedInput, 400, "malformed-input", "Malformed input"),
    ProblemKind(InputTooLarge, 413, "too-large", "Input too large"),
    ProblemKind(InputError, 400, "bad-input", "Bad input"),
    ProblemKind(ConflictError, 409, "conflict", "Conflicting event"),
    ProblemKind(NotFound, 404, "not-found", "Not found"),
    ProblemKind(AuthError, 401, "unauthorized", "Unauthorized"),
    ProblemKind(ForbiddenError, 403, "forbidden", "Forbidden"),
    ProblemKind(StoreError, 503, "store-unavailable", "Store unavailable"),
)
INTERNAL = ProblemKind(FlightlogError, 500, "internal", "Internal error")

# What a status means when the problem type is not one of ours (a proxy, a plain body).
_KIND_OF_STATUS: Mapping[int, ProblemKind] = {
    400: next(k for k in PROBLEMS if k.error is MalformedInput),
    401: next(k for k in PROBLEMS if k.error is AuthError),
    403: next(k for k in PROBLEMS if k.error is ForbiddenError),
    404: next(k for k in PROBLEMS if k.error is NotFound),
    413: next(k for k in PROBLEMS if k.error is InputTooLarge),
    422: next(k for k in PROBLEMS if k.error is EventInvalid),
    409: next(k for k in PROBLEMS if k.error is ConflictError),
}


def problem_kind(exc: FlightlogError) -> ProblemKind:
    """The row of :data:`PROBLEMS` that serves ``exc`` (500 when none matches)."""
    return next((k for k in PROBLEMS if isinstance(exc, k.error)), INTERNAL)


def kind_of_answer(status: int, type_uri: object) -> ProblemKind | None:
    """The row an error answer stands for: by its problem type, else by its status."""
    for kind in PROBLEMS:
        if kind.type_uri == type_uri and kind.status == status:
            return kind
    return _KIND_OF_STATUS.get(status)


def problem_extensions(exc: FlightlogError) -> dict[str, Any]:
    """The structured members a problem carries besides ``detail``.

    An invalid event carries its ``reason``, JSON ``path``, ``position`` and, inside a
    batch, ``item`` (its zero-based place); a conflict its ``original_index``. Clients
    rebuild the error from these members, never by parsing ``detail``.
    """
    if isinstance(exc, EventInvalid):
        return {
            "reason": exc.reason,
            "path": exc.path,
            "position": exc.position,
            "item": exc.item,
        }
    if isinstance(exc, ConflictError):
        return {
            "original_index": exc.original_index,
            "original_position": exc.original_position,
        }
    return {}


def error_from_problem(
    kind: ProblemKind, detail: str, problem: Mapping[str, Any]
) -> FlightlogError:
    """The domain error of a problem document of ``kind`` (the inverse of the server's mapping)."""
    if issubclass(kind.error, EventInvalid):
        reason, path, position = (
            value if isinstance(value := problem.get(key), str) else None
            for key in ("reason", "path", "position")
        )
        item = problem.get("item")
        return kind.error(
            reason if reason is not None else detail,
            path=path if path is not None and reason is not None else "$",
            position=position,
            item=item if isinstance(item, int) and not isinstance(item, bool) else None,
        )
    if issubclass(kind.error, ConflictError):
        original = problem.get("original_index")
        position = problem.get("original_position")
        return ConflictError(
            detail,
            original_index=original
            if isinstance(original, int) and not isinstance(original, bool)
            else None,
            original_position=position if isinstance(position, str) else None,
        )
    return kind.error(detail)


def check_event_size(canonical: bytes, position: str) -> None:
    """Refuse an event whose canonical bytes exceed MAX_EVENT_BYTES, naming its position."""
    if len(canonical) > MAX_EVENT_BYTES:
        raise InputTooLarge(
            f"{position}: the event is {len(canonical):,} bytes, over the limit of "
            f"{MAX_EVENT_BYTES:,} bytes per event"
        )
