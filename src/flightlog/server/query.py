"""The read API: entries, checkpoints, proofs and the verifier key.

``GET /api/v1/key`` needs no token on purpose: it is the public half of the signing key,
and anyone who checks a checkpoint must be able to obtain it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from flightlog.api import EventFilter
from flightlog.auth.tokens import TokenInfo
from flightlog.errors import InputError
from flightlog.server.auth import require
from flightlog.server.models import (
    CheckpointDocument,
    ConsistencyProof,
    EventsPage,
    InclusionProof,
    ShowDocument,
)
from flightlog.server.problems import problem_responses
from flightlog.server.state import server_state
from flightlog.wire import (
    API_PREFIX,
    CHECKPOINT,
    DEFAULT_PAGE,
    EVENT,
    EVENTS,
    FILTER_PARAMS,
    KEY,
    MAX_INDEX,
    MAX_PAGE,
    PROOF_CONSISTENCY,
    PROOF_INCLUSION,
    TEXT_MEDIA_TYPE,
)

TEXT = TEXT_MEDIA_TYPE

router = APIRouter(prefix=API_PREFIX, tags=["query"])
_AUTH = problem_responses(401, 403)


def _utc(moment: datetime | None) -> datetime | None:
    # A timestamp without offset is read as UTC, the ledger's own clock.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def parse_cursor(cursor: str | None) -> int | None:
    """The ledger index a cursor stands for; InputError when it is not one of ours."""
    if cursor is None or cursor == "":
        return None
    if not cursor.isascii() or not cursor.isdigit() or int(cursor[:20]) > MAX_INDEX:
        raise InputError("invalid cursor; pass back the next_cursor of a previous page")
    return int(cursor)


@router.get(
    EVENTS,
    summary="List entries in ledger order, filtered",
    responses=problem_responses(400, 401, 403, 422, 503),
)
def list_events(
    request: Request,
    *,
    type: str | None = Query(
        None, description="CDEvents type, e.g. dev.cdevents.service.deployed.0.3.0"
    ),
    service: str | None = None,
    env: str | None = Query(None, description="environment"),
    commit: str | None = None,
    artifact: str | None = None,
    ticket: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = Query(DEFAULT_PAGE, ge=1, le=MAX_PAGE),
    cursor: str | None = Query(None, description="next_cursor of the previous page"),
    order: Literal["asc", "desc"] = Query(
        "asc", description="asc: oldest first; desc: newest first (the cursor pages backwards)"
    ),
    _token: TokenInfo = Depends(require("read")),
) -> EventsPage:
    """A page of show-documents after the cursor, oldest first (or before it, newest first)."""
    params: dict[str, Any] = {
        "type": type,
        "service": service,
        "env": env,
        "commit": commit,
        "artifact": artifact,
        "ticket": ticket,
        "actor": actor,
        "since": _utc(since),
        "until": _utc(until),
    }
    flt = EventFilter(**{field: params[param] for field, param in FILTER_PARAMS.items()})
    position = parse_cursor(cursor)
    newest_first = order == "desc"
    entries = server_state(request).flightlog.log(
        flt,
        after=None if newest_first else position,
        before=position if newest_first else None,
        limit=limit + 1,
        newest_first=newest_first,
    )
    page, more = entries[:limit], len(entries) > limit
    return EventsPage.model_validate(
        {
            "events": [e.to_wire() for e in page],
            "next_cursor": str(page[-1].index) if more else None,
        }
    )


@router.get(
    EVENT,
    summary="One ledger entry",
    responses=problem_responses(401, 403, 404, 422, 503),
)
def show_event(
    request: Request,
    index: int = Path(ge=0, le=MAX_INDEX),
    _token: TokenInfo = Depends(require("read")),
) -> ShowDocument:
    """The show-document of the entry at ``index``."""
    return ShowDocument.model_validate(server_state(request).flightlog.show(index).to_wire())


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return any(
        part.split(";")[0].strip().lower() == "application/json" for part in accept.split(",")
    )


@router.get(
    CHECKPOINT,
    summary="The latest signed checkpoint (text note, or JSON with Accept: application/json)",
    response_class=Response,
    responses={
        200: {
            "model": CheckpointDocument,
            "description": "The latest checkpoint",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **problem_responses(401, 403, 503),
    },
)
def get_checkpoint(request: Request, _token: TokenInfo = Depends(require("read"))) -> Response:
    """The latest checkpoint, cutting the first one if none exists yet."""
    service = server_state(request).flightlog
    cp = service.latest_checkpoint() or service.checkpoint()
    if _wants_json(request):
        return JSONResponse(CheckpointDocument.model_validate(cp.to_wire()).model_dump(mode="json"))
    return PlainTextResponse(cp.note, media_type=TEXT)


@router.post(
    CHECKPOINT,
    summary="Cut a checkpoint now (admin)",
    responses=problem_responses(401, 403, 503),
)
def post_checkpoint(
    request: Request, _token: TokenInfo = Depends(require("admin"))
) -> CheckpointDocument:
    """Cut a checkpoint if the tree grew since the last one and return the latest."""
    return CheckpointDocument.model_validate(server_state(request).flightlog.checkpoint().to_wire())


@router.get(
    PROOF_INCLUSION,
    summary="Inclusion proof of one entry",
    responses=problem_responses(400, 401, 403, 404, 422, 503),
)
def inclusion_proof(
    request: Request,
    index: int = Query(ge=0, le=MAX_INDEX),
    size: int | None = Query(
        None, ge=1, le=MAX_INDEX, description="tree size; default the latest checkpoint"
    ),
    _token: TokenInfo = Depends(require("read")),
) -> InclusionProof:
    """An RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` leaves."""
    proof = server_state(request).flightlog.inclusion_proof(index, size)
    return InclusionProof.model_validate(proof.to_wire())


@router.get(
    PROOF_CONSISTENCY,
    summary="Consistency proof between two tree sizes",
    responses=problem_responses(400, 401, 403, 404, 422, 503),
)
def consistency_proof(
    request: Request,
    first: int = Query(ge=0, le=MAX_INDEX),
    second: int = Query(ge=0, le=MAX_INDEX),
    _token: TokenInfo = Depends(require("read")),
) -> ConsistencyProof:
    """An RFC 9162 consistency proof that tree ``first`` is a prefix of tree ``second``."""
    return ConsistencyProof.model_validate(
        server_state(request).flightlog.consistency_proof(first, second).to_wire()
    )


@router.get(
    KEY,
    summary="The checkpoint verifier key (public, no authentication)",
    response_class=PlainTextResponse,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "sumdb/note verifier key",
        }
    },
)
def verifier_key(request: Request) -> PlainTextResponse:
    """The Ed25519 verifier key in Go ``sumdb/note`` format."""
    return PlainTextResponse(server_state(request).flightlog.verifier_key(), media_type=TEXT)
