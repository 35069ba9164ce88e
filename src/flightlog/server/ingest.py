"""Ingest: one CDEvent (plain JSON, CloudEvents structured or binary mode) or a batch.

A small single event is parsed and validated on the event loop, anything bigger in the
thread pool, and big batches in the prepare processes when the server has them
(``serve --prepare-processes``), so one batch is validated on another core while the
writer appends the one before. The append goes through the group writer, and the
answer is sent only after the transaction committed (201 when something new was
recorded, 200 when every event was already in the ledger).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import Receive, Scope

from flightlog.api import append_result_to_wire
from flightlog.errors import EventInvalid, InputTooLarge
from flightlog.events.canonical import parse_document
from flightlog.events.refs import convention_warnings
from flightlog.server.auth import BEARER_SECURITY, authorize, bearer_secret, scoped_token
from flightlog.server.body import accepted_media_type, media_type, read_body, receive_body
from flightlog.server.models import AppendAck, BatchAck
from flightlog.server.problems import problem_responses
from flightlog.server.state import ServerState, server_state
from flightlog.service import (
    AppendResult,
    PreparedEvent,
    parse_and_prepare,
    prepare_event,
    prepare_value,
)
from flightlog.sources.cloudevents import binary_attributes, check_agreement, unwrap_structured
from flightlog.wire import (
    API_PREFIX,
    EVENT,
    EVENTS,
    EVENTS_BATCH,
    JSON_MEDIA_TYPE,
    MAX_BATCH_EVENTS,
)

JSON = JSON_MEDIA_TYPE
STRUCTURED = "application/cloudevents+json"
STRUCTURED_BATCH = "application/cloudevents-batch+json"
BODY = "body"
UTF8_BOM = b"\xef\xbb\xbf"

router = APIRouter(prefix=API_PREFIX, tags=["ingest"])
log = structlog.get_logger("flightlog.server.ingest")

_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A CDEvents v0.5.1 event (context, subject, customData).",
}
_CLOUDEVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A CloudEvents 1.0 structured-mode event whose data is a CDEvent.",
    "required": ["specversion", "id", "source", "type", "data"],
}
# Documented in words rather than maxItems: more events answer 413, not a 4xx of
# request validation.
_BATCH_LIMIT = f"At most {MAX_BATCH_EVENTS} events; a larger batch answers 413."
_ERRORS = problem_responses(400, 401, 403, 409, 413, 415, 422, 503)


INLINE_PREPARE_BYTES = 16 * 1024
"""Single events up to this size are parsed and validated on the event loop itself."""


def _located(exc: EventInvalid, position: str) -> EventInvalid:
    return exc if exc.position else exc.at(position)


def _prepare(
    doc: object,
    attributes: Mapping[str, str],
    position: str,
    label: str = "attribute {}",
) -> PreparedEvent:
    if not isinstance(doc, dict):
        raise EventInvalid("an event must be a JSON object", position=position)
    try:
        prepared = prepare_value(doc, position=position)
    except EventInvalid as exc:
        raise _located(exc, position) from None
    check_agreement(attributes, doc, position=position, label=label)
    return prepared


def prepare_single(kind: str, data: bytes, headers: Mapping[str, str] | None) -> PreparedEvent:
    """Parse and validate the body of ``POST /events`` in the given mode (pure)."""
    parsed = parse_document(data, name=BODY)
    if kind == STRUCTURED:
        event, attributes = unwrap_structured(parsed.value, position=BODY)
        return _prepare(event, attributes, BODY)
    if not isinstance(parsed.value, dict):
        raise EventInvalid("an event must be a JSON object", position=BODY)
    # The body is the event itself: its canonical bytes come from this one parse.
    try:
        prepared = prepare_event(parsed)
    except EventInvalid as exc:
        raise _located(exc, BODY) from None
    if headers:
        check_agreement(headers, parsed.value, position=BODY, label="header ce-{}")
    return prepared


def _batch_position(exc: EventInvalid) -> EventInvalid:
    # The parser names batch items "body[i]"; the API names them "[i]" and gives the
    # number itself as the problem's "item".
    if exc.position and exc.position.startswith(BODY + "[") and exc.position.endswith("]"):
        number = exc.position[len(BODY) + 1 : -1]
        located = exc.at(exc.position[len(BODY) :])
        if number.isascii() and number.isdigit():
            located.item = int(number)
        return located
    return exc


def _require_array(value: object, *, may_be_empty: bool = False) -> list[Any]:
    if not isinstance(value, list):
        raise EventInvalid("a batch must be a JSON array of events", position=BODY)
    if not value and not may_be_empty:
        raise EventInvalid("the batch holds no events", position=BODY)
    if len(value) > MAX_BATCH_EVENTS:
        raise InputTooLarge(f"a batch holds at most {MAX_BATCH_EVENTS} events, got {len(value)}")
    return value


def prepare_batch(kind: str, data: bytes) -> list[PreparedEvent]:
    """Parse and validate a batch body (pure); the first bad event's error names ``[i]``."""
    if kind == STRUCTURED_BATCH:
        # The CloudEvents JSON batch format allows an empty batch: it records nothing.
        envelopes = _require_array(parse_document(data, name=BODY).value, may_be_empty=True)
        prepared = []
        for i, envelope in enumerate(envelopes):
            try:
                event, attributes = unwrap_structured(envelope, position=f"[{i}]")
                prepared.append(_prepare(event, attributes, f"[{i}]"))
            except EventInvalid as exc:
                exc.item = i
                raise
        return prepared
    if data.removeprefix(UTF8_BOM).lstrip()[:1] == b"{":
        # One object or JSON Lines would parse; a batch is an array by definition.
        raise EventInvalid("a batch must be a JSON array of events", position=BODY)
    try:
        events = parse_and_prepare(data, name=BODY, max_events=MAX_BATCH_EVENTS)
    except EventInvalid as exc:
        raise _batch_position(exc) from None
    _require_array(events)
    return events


POOL_PREPARE_BYTES = 64 * 1024
"""Batch bodies from this size up go to the prepare processes, when the server has any."""


COLLECTOR_THRESHOLD = 50_000
"""Container allocations between two young collections of the cycle collector while serving.

CPython's default (700) starts a collection several times per event of a batch, and the
older generations then rescan the live batches in flight: about a sixth of the CPU of
batch ingest. Almost everything a request allocates is freed by reference counting the
moment the request ends, so collecting less often only delays freeing the rare cycle.
"""


def tune_collector() -> tuple[int, int, int]:
    """Tune the cycle collector for serving; return the thresholds it had before.

    The objects alive now (modules, the app, the store's engine) are moved out of the
    collector's sight (``gc.freeze``): they live as long as the process, and every full
    collection would otherwise scan them again.
    """
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(before[0], COLLECTOR_THRESHOLD), *before[1:])
    return before


@contextlib.contextmanager
def collector_tuned() -> Iterator[None]:
    """:func:`tune_collector` for the life of a server, then the collector as it was.

    Objects the host process froze before stay frozen (the collector cannot thaw only
    some of them), so the server's are thawed only when nothing was frozen before.
    """
    thawed = gc.get_freeze_count() == 0
    before = tune_collector()
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if thawed:
            gc.unfreeze()


def start_prepare_process() -> None:
    """Initialise a prepare process: the server's own signal handling stops it, not Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tune_collector()


async def _prepared_batch(state: ServerState, kind: str, data: bytes) -> list[PreparedEvent]:
    """Prepare a batch body: in a prepare process when there is one and the body is big.

    There the parse, the canonical bytes, the schema and the refs of one batch run on
    another core while the writer appends the batch before it; only the prepared rows
    (or the first error) come back, and the events are parsed again from their
    canonical bytes, the form the ledger commits to.
    """
    pool = state.prepare_pool
    if pool is not None and len(data) >= POOL_PREPARE_BYTES:
        loop = asyncio.get_running_loop()
        try:
            rows = await loop.run_in_executor(pool, prepared_rows, kind, data)
        except BrokenProcessPool:
            # A prepare process died (killed, out of memory): the batch is prepared
            # here instead; nothing of it was written.
            log.warning("prepare_process_lost")
        else:
            return [PreparedEvent(orjson.loads(row[0]), *row) for row in rows]
    return await run_in_threadpool(prepare_batch, kind, data)


PreparedRow = tuple[bytes, str, str, str, str, str, str, tuple[tuple[str, str], ...], str]
"""A :class:`PreparedEvent` without its parsed event: every field after ``event``, in order."""


def prepared_rows(kind: str, data: bytes) -> list[PreparedRow]:
    """:func:`prepare_batch` in a prepare process: the prepared events, less the parsed event.

    The parsed event is rebuilt from its canonical bytes on the server's side: unpickled
    events cost more to send back and then to project (their keys are not interned) than
    one orjson parse of the bytes that the ledger commits to.
    """
    return [
        (
            ev.canonical,
            ev.payload_sha256,
            ev.id,
            ev.source,
            ev.type,
            ev.time,
            ev.time_utc,
            ev.refs,
            ev.position,
        )
        for ev in prepare_batch(kind, data)
    ]


async def _append(state: ServerState, events: Sequence[PreparedEvent]) -> list[AppendResult]:
    if not events:
        return []
    results = await state.writer.submit(events)
    state.metrics.count_ingested(
        ev for ev, res in zip(events, results, strict=True) if not res.duplicate
    )
    return results


@router.post(
    EVENTS,
    status_code=201,
    response_model=AppendAck,
    summary="Record one CDEvent (JSON, or CloudEvents structured/binary mode)",
    responses={
        200: {"model": AppendAck, "description": "Already recorded (idempotent)"},
        **_ERRORS,
    },
    openapi_extra={
        "security": BEARER_SECURITY,
        "requestBody": {
            "required": True,
            "content": {
                JSON: {"schema": _EVENT_SCHEMA},
                STRUCTURED: {"schema": _CLOUDEVENT_SCHEMA},
            },
        },
    },
)
async def post_event(request: Request) -> Response:
    """Validate one event, append it, and answer with its ledger index."""
    status, body, location = await record_event(
        server_state(request), request.receive, event_head(request.scope)
    )
    extra = {"Location": location} if location is not None else None
    return Response(body, status_code=status, media_type=JSON, headers=extra)


async def answer_event(scope: Scope, receive: Receive) -> tuple[int, bytes, str | None]:
    """``POST /events`` straight from ASGI: :func:`post_event` without Request or Response."""
    state: ServerState = scope["app"].state.server
    return await record_event(state, receive, event_head(scope))


@dataclass(frozen=True, slots=True)
class EventHead:
    """What ``POST /events`` reads from the request's headers."""

    authorization: str
    content_type: str
    content_length: str | None
    ce_headers: Mapping[str, str] | None  # the headers, when any is a ``ce-`` attribute


_HEAD_FIELDS = (b"authorization", b"content-type", b"content-length")


def event_head(scope: Scope) -> EventHead:
    """The :class:`EventHead` of an ASGI request, from one pass over its raw headers."""
    found: dict[bytes, bytes] = {}
    binary = False
    for name, value in scope["headers"]:
        if name in _HEAD_FIELDS:
            # The first occurrence wins, as with Starlette's Headers.get.
            found.setdefault(name, value)
        elif name[:3] == b"ce-":
            binary = True
    length = found.get(b"content-length")
    return EventHead(
        found.get(b"authorization", b"").decode("latin-1"),
        found.get(b"content-type", b"").decode("latin-1"),
        None if length is None else length.decode("latin-1"),
        Headers(scope=scope) if binary else None,
    )


async def record_event(
    state: ServerState, receive: Receive, head: EventHead
) -> tuple[int, bytes, str | None]:
    """Authenticate, read, validate and append one event; its status, body and Location.

    The answer is built only after the append committed. Every failure is raised as the
    domain or HTTP error the app's exception handlers turn into a problem document.
    """
    await scoped_token(state.token_cache, bearer_secret(head.authorization), "ingest")
    kind = accepted_media_type(head.content_type, (JSON, STRUCTURED))
    attributes = (
        binary_attributes(head.ce_headers) if kind == JSON and head.ce_headers is not None else None
    )
    data = await receive_body(receive, state.settings.max_body_bytes, head.content_length)
    if len(data) <= INLINE_PREPARE_BYTES:
        # A typical event validates in well under a millisecond: a thread hop would cost
        # more than it saves the event loop.
        prepared = prepare_single(kind, data, attributes)
    else:
        prepared = await run_in_threadpool(prepare_single, kind, data, attributes)
    [result] = await _append(state, [prepared])
    # The hot path answers with bytes it builds itself; the schema is AppendAck's.
    answer = append_result_to_wire(result)
    if warnings := convention_warnings(prepared.event):
        answer["warnings"] = warnings
    body = orjson.dumps(answer)
    if result.duplicate:
        return 200, body, None
    return 201, body, API_PREFIX + EVENT.format(index=result.index)


@router.post(
    EVENTS_BATCH,
    status_code=201,
    response_model=BatchAck,
    response_model_exclude_none=True,
    summary="Record up to 10,000 events atomically",
    responses={
        200: {"model": BatchAck, "description": "Every event was already recorded"},
        **_ERRORS,
    },
    openapi_extra={
        "security": BEARER_SECURITY,
        "requestBody": {
            "required": True,
            "content": {
                JSON: {
                    "schema": {
                        "type": "array",
                        "items": _EVENT_SCHEMA,
                        "description": _BATCH_LIMIT,
                    }
                },
                STRUCTURED_BATCH: {
                    "schema": {
                        "type": "array",
                        "items": _CLOUDEVENT_SCHEMA,
                        "description": _BATCH_LIMIT,
                    }
                },
            },
        },
    },
)
async def post_batch(request: Request) -> Response:
    """Validate every event (any bad one fails the whole batch), then append them at once."""
    state = server_state(request)
    await authorize(request, "ingest", state)
    kind = media_type(request, (JSON, STRUCTURED_BATCH))
    data = await read_body(request, state.settings.max_body_bytes)
    prepared = await _prepared_batch(state, kind, data)
    results = await _append(state, prepared)
    warnings = [
        w for i, ev in enumerate(prepared) for w in convention_warnings(ev.event, position=f"[{i}]")
    ]
    # Built here rather than through the response model: a 10,000-event answer would
    # otherwise spend longer in serialisation than in the append. The schema is BatchAck's.
    doc: dict[str, Any] = {"results": [append_result_to_wire(r) for r in results]}
    if warnings:
        doc["warnings"] = warnings
    status = 200 if all(r.duplicate for r in results) else 201
    return Response(orjson.dumps(doc), status_code=status, media_type=JSON)
