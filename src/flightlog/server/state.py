"""What the routers share for the lifetime of one app: service, writer, metrics, tokens."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from flightlog.auth.tokens import TokenCache
from flightlog.config import Settings
from flightlog.server.metrics import Metrics
from flightlog.server.writer import GroupWriter
from flightlog.service import Flightlog


@dataclass(frozen=True)
class ServerState:
    """The live objects behind one running app."""

    settings: Settings
    flightlog: Flightlog
    writer: GroupWriter
    metrics: Metrics
    token_cache: TokenCache
    prepare_pool: Executor | None = None  # processes that prepare big batches, if any


def server_state(conn: HTTPConnection) -> ServerState:
    """The state of the app serving ``conn``."""
    state: ServerState = conn.app.state.server
    return state
