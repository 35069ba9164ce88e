"""Forge webhooks: ``POST /webhooks/github`` and ``POST /webhooks/gitlab``.

Each delivery is verified against its source's secret before anything else happens; a
verified one is parsed, mapped to events by the forge's pure module, its raw body kept
in the blob store in the same transaction as its delivery event and derived events.
A redelivery (same delivery id) is answered 200 and stores nothing new.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from flightlog.errors import (
    ConflictError,
    InputError,
    MalformedInput,
    SignatureError,
)
from flightlog.events.canonical import ParsedDocument, canonical_bytes
from flightlog.server.body import media_type, read_body
from flightlog.server.problems import problem_responses
from flightlog.server.state import ServerState, server_state
from flightlog.service import AppendResult, Flightlog, PreparedEvent, prepare_event
from flightlog.sources import github, gitlab
from flightlog.sources.config import SourceConfig, parse_config
from flightlog.sources.webhook import (
    Delivery,
    Derived,
    body_digest,
    delivery_event_id,
    delivery_events,
    delivery_source,
    headers_to_keep,
    utc_from_epoch,
    verify_standard_webhook,
)

CONFIG_ENV = "FLIGHTLOG_CONFIG"
DEFAULT_CONFIG = "flightlog.toml"
SECRET_TTL = 5.0
"""Seconds a secret read from the database is reused before it is read again."""
JSON = "application/json"

log = structlog.get_logger("flightlog.server.webhooks")
router = APIRouter(prefix="/webhooks", tags=["webhooks"])
_ERRORS = problem_responses(400, 401, 413, 415, 503)


@dataclass(frozen=True)
class Accepted:
    """A verified, parsed delivery: who sent what, ready to map."""

    forge: str
    event: str
    kind: str
    delivery_id: str
    payload: Mapping[str, Any]
    headers: dict[str, str]
    body: bytes


class _Caches:
    """Per-app state: source secrets (briefly) and the parsed ``flightlog.toml``."""

    def __init__(self) -> None:
        self.secrets: dict[str, tuple[float, str | None]] = {}
        self.config: tuple[tuple[str, int], SourceConfig] | None = None


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


def _json_object(body: bytes) -> Mapping[str, Any]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedInput(f"the delivery body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise MalformedInput("the delivery body must be a JSON object")
    return payload


def _header(request: Request, name: str, shown: str) -> str:
    value = request.headers.get(name, "").strip()
    if not value:
        raise InputError(f"missing {shown} header")
    if len(value) > 200 or not value.isprintable():
        raise InputError(f"{shown} header is not a plausible value")
    return value


def _prepare(
    accepted: Accepted, derived: list[Derived], refs: dict[str, Any], error: str | None
) -> list[PreparedEvent]:
    """Build and validate every event of one delivery; a bad mapping still records the delivery."""
    delivery = Delivery(
        forge=accepted.forge,
        event=accepted.event,
        delivery_id=accepted.delivery_id,
        body_sha256=body_digest(accepted.body),
        body_bytes=len(accepted.body),
        headers=accepted.headers,
        received_at=utc_from_epoch(time.time()),
        payload=accepted.payload,
    )
    action = accepted.payload.get("action")
    action = action if isinstance(action, str) and action else None
    if error is None:
        events = delivery_events(delivery, derived, action=action, refs=refs)
        try:
            return [_validated(e, i) for i, e in enumerate(events)]
        except InputError as exc:
            error = str(exc)
    # The forge sent something the mapping did not expect: keep the delivery itself.
    log.warning("webhook_mapping_failed", forge=accepted.forge, error=error)
    [received] = delivery_events(delivery, [], action=action, refs=refs)
    received["subject"]["content"]["mappingError"] = error[:500]
    return [_validated(received, 0)]


def _validated(event: dict[str, Any], position: int) -> PreparedEvent:
    # The event is built from parsed JSON values only, so its canonical bytes can be
    # computed directly instead of printing and re-parsing it.
    name = f"event[{position}]"
    doc = ParsedDocument(
        value=event, canonical=canonical_bytes(event, float_free=True), position=name
    )
    return prepare_event(doc)


def _lookup_or_map(
    service: Flightlog, accepted: Accepted, config: SourceConfig
) -> int | list[PreparedEvent]:
    """The index of the recorded delivery event, or else the delivery's prepared events."""
    found = service.delivery_index(
        delivery_source(accepted.forge), delivery_event_id(accepted.delivery_id, 0)
    )
    return found if found is not None else map_delivery(accepted, config)


def map_delivery(accepted: Accepted, config: SourceConfig) -> list[PreparedEvent]:
    """Map and validate one delivery (pure)."""
    derived: list[Derived] = []
    refs: dict[str, Any] = {}
    error = None
    try:
        if accepted.forge == github.NAME:
            refs = github.repo_refs(accepted.payload)
            derived = github.map_payload(accepted.kind, accepted.payload, config)
        else:
            refs = gitlab.project_refs(accepted.payload, config)
            derived = gitlab.map_payload(accepted.kind, accepted.payload, config)
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
    # GitHub's ping is answered 200 like any probe; it is recorded all the same.
    fresh = not body["duplicate"] and accepted.event != "ping"
    return JSONResponse(body, status_code=201 if fresh else 200)


async def _record(request: Request, state: ServerState, accepted: Accepted) -> JSONResponse:
    source = delivery_source(accepted.forge)
    first_id = delivery_event_id(accepted.delivery_id, 0)
    service = state.flightlog
    config = source_config(request)
    prepared = await run_in_threadpool(_lookup_or_map, service, accepted, config)
    if isinstance(prepared, int):
        return _answer(accepted, None, prepared)
    try:
        # The body is written in the append transaction: no event names a missing blob.
        results = await state.writer.submit(prepared, blobs=[(accepted.body, JSON)])
    except ConflictError:
        # A concurrent copy of the same delivery won the race; it is recorded.
        found = await run_in_threadpool(service.delivery_index, source, first_id)
        return _answer(accepted, None, found)
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


@router.post(
    "/github",
    status_code=201,
    summary="Receive a GitHub webhook delivery (X-Hub-Signature-256)",
    responses={200: {"description": "A ping, or a delivery already recorded"}, **_ERRORS},
)
async def github_webhook(request: Request) -> JSONResponse:
    """Verify, keep and record one GitHub delivery."""
    state = server_state(request)
    body = await read_body(request, state.settings.max_body_bytes)
    # The secret is never bound to a local of this frame: error reports show frame locals.
    github.verify_signature(
        await _secret(request, state, github.NAME),
        body,
        request.headers.get(github.SIGNATURE_HEADER),
    )
    event = _header(request, github.EVENT_HEADER, "X-GitHub-Event")
    delivery = _header(request, github.DELIVERY_HEADER, "X-GitHub-Delivery")
    media_type(request, (JSON,))
    payload = _json_object(body)
    github.check_shape(event, payload)
    headers = headers_to_keep(dict(request.headers), github.SECRET_HEADERS)
    accepted = Accepted(github.NAME, event, event, delivery, payload, headers, body)
    return await _record(request, state, accepted)


@router.post(
    "/gitlab",
    status_code=201,
    summary="Receive a GitLab webhook delivery (X-Gitlab-Token or Standard Webhooks)",
    responses={200: {"description": "A delivery already recorded"}, **_ERRORS},
)
async def gitlab_webhook(request: Request) -> JSONResponse:
    """Verify, keep and record one GitLab delivery."""
    state = server_state(request)
    body = await read_body(request, state.settings.max_body_bytes)
    headers = {k.lower(): v for k, v in request.headers.items()}
    # The secret is never bound to a local of this frame: error reports show frame locals.
    if "webhook-signature" in headers:
        verify_standard_webhook(
            await _secret(request, state, gitlab.NAME), headers, body, now=time.time()
        )
    else:
        gitlab.verify_token(
            await _secret(request, state, gitlab.NAME), headers.get(gitlab.TOKEN_HEADER)
        )
    event = _header(request, gitlab.EVENT_HEADER, "X-Gitlab-Event")
    media_type(request, (JSON,))
    payload = _json_object(body)
    kind = gitlab.object_kind(event, payload)
    delivery = gitlab.delivery_id(headers) or f"sha256:{body_digest(body)}"
    if len(delivery) > 200 or not delivery.isprintable():
        raise InputError("the delivery id header is not a plausible value")
    kept = headers_to_keep(headers, gitlab.SECRET_HEADERS)
    accepted = Accepted(gitlab.NAME, event, kind, delivery, payload, kept, body)
    return await _record(request, state, accepted)
