"""The question API: trace, diff, suspects, search and timeline (read scope)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request

from flightlog.auth.tokens import TokenInfo
from flightlog.server.auth import require
from flightlog.server.problems import problem_responses
from flightlog.server.state import server_state
from flightlog.wire import API_PREFIX, DIFF, SEARCH, SUSPECTS, TIMELINE, TRACE

router = APIRouter(prefix=API_PREFIX, tags=["lineage"])
_ERRORS = problem_responses(400, 401, 403, 404, 422, 503)
# Six hours: how far back an incident usually needs looking.
DEFAULT_WINDOW_SECONDS = 6 * 3600


def _utc(moment: datetime | None) -> datetime | None:
    # A timestamp without offset is read as UTC, the ledger's own clock.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@router.get(TRACE, summary="What runs in ENV/SERVICE and the chain behind it", responses=_ERRORS)
def trace(
    request: Request,
    environment: str = Path(),
    service: str = Path(),
    at: datetime | None = Query(None, description="what ran at this time (default: now)"),
    deployment: str | None = Query(None, description="a deployment id, version or ledger index"),
    artifact: str | None = Query(None, description="the latest deployment of this artifact"),
    _token: TokenInfo = Depends(require("read")),
) -> dict[str, Any]:
    """The deployment, its artifact, build, commits, tests, scans, approvals and gaps."""
    return server_state(request).flightlog.trace(
        f"{environment}/{service}", at=_utc(at), deployment=deployment, artifact=artifact
    )


@router.get(DIFF, summary="What changed between two deployments", responses=_ERRORS)
def diff(
    request: Request,
    target: str = Query(description="ENV/SERVICE"),
    from_: str = Query(alias="from", description="a version, deployment id or ledger index"),
    to: str = Query(description="a version, deployment id or ledger index"),
    _token: TokenInfo = Depends(require("read")),
) -> dict[str, Any]:
    """Commits, authors, tickets and systems between the two deployments."""
    return server_state(request).flightlog.diff(target, from_, to)


@router.get(SUSPECTS, summary="Deployments before an incident, ranked", responses=_ERRORS)
def suspects(
    request: Request,
    env: str = Query(description="environment"),
    at: datetime = Query(description="when the incident began"),
    service: str | None = None,
    window: int = Query(DEFAULT_WINDOW_SECONDS, ge=1, le=90 * 86400, description="seconds"),
    _token: TokenInfo = Depends(require("read")),
) -> dict[str, Any]:
    """Each suspect with its score, reasons, diff and the last good deployment."""
    moment = _utc(at)
    assert moment is not None
    return server_state(request).flightlog.suspects(
        env, at=moment, window_seconds=window, service=service
    )


@router.get(SEARCH, summary="Full-text search of the ledger", responses=_ERRORS)
def search(
    request: Request,
    q: str = Query(min_length=1, max_length=500),
    limit: int = Query(50, ge=1, le=500),
    _token: TokenInfo = Depends(require("read")),
) -> dict[str, Any]:
    """Entries matching every word of ``q`` (as prefixes), best first."""
    return server_state(request).flightlog.search(q, limit=limit)


@router.get(TIMELINE, summary="Every event in a time range, merged", responses=_ERRORS)
def timeline(
    request: Request,
    since: datetime | None = None,
    until: datetime | None = None,
    service: str | None = None,
    env: str | None = Query(None, description="environment"),
    system: str | None = None,
    limit: int = Query(500, ge=1, le=5000),
    _token: TokenInfo = Depends(require("read")),
) -> dict[str, Any]:
    """Events in ledger order, each with its index, time, type and a one-line summary."""
    return server_state(request).flightlog.timeline(
        since=_utc(since),
        until=_utc(until),
        service=service,
        environment=env,
        system=system,
        limit=limit,
    )
