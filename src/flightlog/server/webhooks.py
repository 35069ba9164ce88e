"""Forge webhooks: ``POST /webhooks/{name}`` for every forge module in ``flightlog.sources``.

Each delivery is verified against its source's secret before anything else happens; a
verified one is parsed, mapped to events by the forge's pure module, its raw body kept
in the blob store in the same transaction as its delivery event and derived events.
A redelivery (same delivery id) is answered 200 and stores nothing new.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from flightlog.errors import ConflictError, InputError, SignatureError
from flightlog.events.canonical import ParsedDocument, canonical_bytes
from flightlog.server.body import media_type, read_body
from flightlog.server.problems import problem_responses
from flightlog.server.state import ServerState, server_state
from flightlog.service import AppendResult, PreparedEvent, prepare_event
from flightlog.sources import get_webhook_source, webhook_sources
from flightlog.sources.config import SourceConfig, parse_config
from flightlog.sources.webhook import (
    Accepted,
    Derived,
    WebhookSource,
    action_of,
    body_digest,
    delivery_event_id,
    delivery_events,
    delivery_of,
    delivery_source,
    utc_from_epoch,
)

CONFIG_ENV = "FLIGHTLOG_CONFIG"
DEFAULT_CONFIG = "flightlog.toml"
SECRET_TTL = 5.0
"""Seconds a secret read from the database is reused before it is read again."""
JSON = "application/json"
INLINE_MAP_BYTES = 64 * 1024
"""Deliveries up to this size are mapped on the event loop itself, larger ones in a thread."""

log = structlog.get_logger("flightlog.server.webhooks")
router = APIRouter(prefix="/webhooks", tags=["webhooks"])
_ERRORS = problem_responses(400, 401, 413, 415, 503)


class _Caches:
    """Per-app state: source secrets (briefly) and the parsed ``flightlog.toml``."""

    def __init__(self) -> None:
        self.secrets: dict[str, tuple[float, str | None]] = {}
        self.config: tuple[tuple[str, int], SourceConfig] | None = None


_FORGES = {source.name: source for source in webhook_sources()}


def _source(forge: str) -> WebhookSource:
    # The forges are listed once; the lookup by registry covers one added at run time.
    return _FORGES.get(forge) or get_webhook_source(forge)


def _caches(request: Request) -> _Caches:
    caches = getattr(request.app.state, "webhook_caches", None)
    if caches is None:
        caches = _Caches()
        request.app.state.webhook_caches = caches
    return caches


async def _secret(request: Request, state: ServerState, forge: str) -> str:
    caches = _caches(request)
    now = time.monotonic()
    cached = caches.secrets.get(forge)
    if cached is None or now - cached[0] > SECRET_TTL:
        value = await run_in_threadpool(state.flightlog.webhook_sources.secret, forge)
        cached = (now, value)
        caches.secrets[forge] = cached
    if cached[1] is None:
        raise SignatureError(f"no {forge} source is configured; run 'flightlog source add {forge}'")
    return cached[1]


def source_config(request: Request) -> SourceConfig:
    """The parsed ``flightlog.toml`` (``FLIGHTLOG_CONFIG``), re-read when the file changes."""
    path = Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    try:
        stamp = (str(path), path.stat().st_mtime_ns)
    except OSError:
        if os.environ.get(CONFIG_ENV):
            raise InputError(f"{CONFIG_ENV}={path} does not exist") from None
        return SourceConfig()
    caches = _caches(request)
    if caches.config is None or caches.config[0] != stamp:
        caches.config = (stamp, parse_config(path.read_text(encoding="utf-8")))
    return caches.config[1]


def _prepare(
    accepted: Accepted, derived: list[Derived], refs: dict[str, Any], error: str | None
) -> list[PreparedEvent]:
    """Build and validate every event of one delivery; a bad mapping still records the delivery."""
    delivery = delivery_of(accepted, utc_from_epoch(time.time()))
    action = action_of(accepted)
    if error is None:
        events = delivery_events(delivery, derived, action=action, refs=refs)
        try:
            return [_validated(accepted, e, i) for i, e in enumerate(events)]
        except InputError as exc:
            error = str(exc)
    # The forge sent something the mapping did not expect: keep the delivery itself.
    log.warning("webhook_mapping_failed", forge=accepted.forge, error=error)
    [received] = delivery_events(delivery, [], action=action, refs=refs)
    received["subject"]["content"]["mappingError"] = error[:500]
    return [_validated(accepted, received, 0)]


def _validated(accepted: Accepted, event: dict[str, Any], position: int) -> PreparedEvent:
    # The event is built from parsed JSON values only, so its canonical bytes can be
    # computed directly instead of printing and re-parsing it; every event still passes
    # the full validation of an ingested one.
    canonical = canonical_bytes(event, exact_numbers=accepted.exact_numbers)
    return prepare_event(
        ParsedDocument(value=event, canonical=canonical, position=f"event[{position}]")
    )


def map_delivery(accepted: Accepted, config: SourceConfig) -> list[PreparedEvent]:
    """Map and validate one delivery (pure)."""
    derived: list[Derived] = []
    refs: dict[str, Any] = {}
    error = None
    try:
        refs, derived = _source(accepted.forge).derive(accepted, config)
    except (TypeError, AttributeError, ValueError, KeyError, IndexError) as exc:
        # A verified payload of a shape the forge's documentation does not show.
        error = f"the {accepted.event} payload has an unexpected shape: {exc}"
    return _prepare(accepted, derived, refs, error)


def _answer(
    accepted: Accepted, results: list[AppendResult] | None, first: int | None
) -> JSONResponse:
    body: dict[str, Any] = {
        "delivery": accepted.delivery_id,
        "bodySha256": body_digest(accepted.body),
        "duplicate": results is None or all(r.duplicate for r in results),
    }
    if results is not None:
        body["indices"] = [r.index for r in results]
    elif first is not None:
        body["indices"] = [first]
    # A probe is answered 200 like a redelivery; it is recorded all the same.
    probe = accepted.event in _source(accepted.forge).probe_events
    fresh = not body["duplicate"] and not probe
    return JSONResponse(body, status_code=201 if fresh else 200)


async def _recorded(state: ServerState, accepted: Accepted) -> int | None:
    """The index of the delivery's event if this delivery id is recorded already."""
    sources = state.flightlog.webhook_sources
    args = (delivery_source(accepted.forge), delivery_event_id(accepted.delivery_id, 0))
    if sources.local_reads:
        # One indexed read of a local file that never waits for the writer (WAL).
        return sources.delivery_index(*args)
    return await run_in_threadpool(sources.delivery_index, *args)


async def _record(request: Request, state: ServerState, accepted: Accepted) -> JSONResponse:
    # A redelivery is answered from the ledger before anything (its body included) is
    # written again.
    found = await _recorded(state, accepted)
    if found is not None:
        return _answer(accepted, None, found)
    config = source_config(request)
    if len(accepted.body) <= INLINE_MAP_BYTES:
        # A push maps to at most ~21 events: a thread hop costs more than it spares the loop.
        prepared = map_delivery(accepted, config)
    else:
        prepared = await run_in_threadpool(map_delivery, accepted, config)
    try:
        # The body is written in the append transaction: no event names a missing blob.
        results = await state.writer.submit(prepared, blobs=[(accepted.body, JSON)])
    except ConflictError:
        # A concurrent copy of the same delivery won the race; it is recorded.
        return _answer(accepted, None, await _recorded(state, accepted))
    state.metrics.count_ingested(
        ev for ev, res in zip(prepared, results, strict=True) if not res.duplicate
    )
    log.info(
        "webhook_recorded",
        forge=accepted.forge,
        hook_event=accepted.event,
        delivery=accepted.delivery_id,
        events=len(prepared),
    )
    return _answer(accepted, results, None)


def _receiver(source: WebhookSource) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def receive(request: Request) -> JSONResponse:
        state = server_state(request)
        body = await read_body(request, state.settings.max_body_bytes)
        headers = {k.lower(): v for k, v in request.headers.items()}
        # The secret is never bound to a local of this frame: error reports show frame locals.
        source.verify(headers, body, await _secret(request, state, source.name))
        media_type(request, tuple(source.media_types))
        return await _record(request, state, source.accept(headers, body))

    receive.__doc__ = f"Verify, keep and record one {source.title} delivery."
    return receive


RECEIVERS: dict[str, Callable[[Request], Awaitable[JSONResponse]]] = {
    f"{router.prefix}/{forge.name}": _receiver(forge) for forge in _FORGES.values()
}
"""The endpoint answering ``POST /webhooks/{name}`` for each forge, by path."""

# One route per forge module: a new forge is a new file in flightlog.sources.
for _forge in _FORGES.values():
    router.add_api_route(
        f"/{_forge.name}",
        RECEIVERS[f"{router.prefix}/{_forge.name}"],
        methods=["POST"],
        name=f"{_forge.name}_webhook",
        status_code=201,
        summary=_forge.summary,
        responses={200: {"description": "A ping, or a delivery already recorded"}, **_ERRORS},
    )
