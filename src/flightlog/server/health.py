"""Liveness and readiness probes (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from flightlog.server.problems import problem_responses
from flightlog.server.state import server_state

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    """A probe's answer."""

    status: str


@router.get("/healthz", summary="The process is up")
async def healthz() -> Health:
    """Answer as long as the process serves requests."""
    return Health(status="ok")


@router.get("/readyz", summary="The database is reachable", responses=problem_responses(503))
async def readyz(request: Request) -> Health:
    """Answer 200 when the database answers, 503 (problem) otherwise."""
    await run_in_threadpool(server_state(request).flightlog.ping)
    return Health(status="ready")
