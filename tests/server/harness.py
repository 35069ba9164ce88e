"""The test harness of the HTTP API: an app handle, an async runner, problem checks."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
from anyio.from_thread import BlockingPortal
from fastapi import FastAPI

from flightlog.auth.tokens import create_token
from flightlog.config import Settings
from flightlog.server.state import ServerState
from flightlog.service import Flightlog

BASE_URL = "http://flightlog.test"


class PortalClient:
    """A synchronous face on an async client whose app runs in a portal's event loop."""

    def __init__(self, portal: BlockingPortal, client: httpx.AsyncClient) -> None:
        self._portal = portal
        self._client = client

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request and return the complete response."""
        return self._portal.call(partial(self._client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """GET ``url``."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """POST to ``url``."""
        return self.request("POST", url, **kwargs)


@contextlib.contextmanager
def serving(app: FastAPI) -> Iterator[PortalClient]:
    """Run ``app`` (lifespan included) in a background event loop; yield a sync client."""
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(running(app)) as client,
    ):
        yield PortalClient(portal, client)


@dataclass
class Api:
    """An app serving a fresh ledger, its test client and its admin token."""

    app: FastAPI
    client: PortalClient
    admin: str

    @property
    def state(self) -> ServerState:
        """The live state of the app."""
        state: ServerState = self.app.state.server
        return state

    @property
    def flightlog(self) -> Flightlog:
        """The service behind the app."""
        return self.state.flightlog

    def auth(self, token: str | None = None) -> dict[str, str]:
        """An Authorization header for ``token`` (default: the admin token)."""
        return {"Authorization": f"Bearer {token or self.admin}"}

    def token(self, *scopes: str, name: str | None = None) -> str:
        """Create a token with ``scopes``."""
        return create_token(self.flightlog.tokens, name or "-".join(scopes) or "none", scopes)


def admin_token(settings: Settings) -> str:
    """The first admin token the app wrote on start."""
    return settings.admin_token_path.read_text(encoding="utf-8").strip()


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app``'s lifespan and yield an async client calling it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
            yield c


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    """A real uvicorn server in a thread."""

    url: str
    admin: str
    settings: Settings


@contextlib.contextmanager
def uvicorn_in_thread(settings: Settings) -> Iterator[int]:
    """The app under uvicorn, configured as ``flightlog serve`` is, in a thread; yields the port."""
    import threading

    import uvicorn

    from flightlog.server.app import create_app
    from flightlog.server.body import HTTP_LIMITS

    port = free_port()
    config = uvicorn.Config(
        create_app(settings, checkpoint_interval=3600),
        host="127.0.0.1",
        port=port,
        access_log=False,
        log_level="warning",
        lifespan="on",
        **HTTP_LIMITS,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def problem(response: httpx.Response) -> dict[str, Any]:
    """The problem document of ``response``, after checking it is one (RFC 9457)."""
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    assert {"type", "title", "status", "detail"} <= body.keys()
    return body


CLI = "from flightlog.cli.app import main; main()"


@dataclass
class ServerProcess:
    """``flightlog serve`` running as a child process in its own session."""

    proc: subprocess.Popen[bytes]
    url: str
    stdout: Path
    stderr: Path

    def output(self) -> str:
        """What the process printed on stdout so far."""
        return self.stdout.read_text(encoding="utf-8", errors="replace")

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the whole process group (uvicorn workers included)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signum)


def start_server(
    env: dict[str, str], workdir: Path, *args: str, port: int | None = None
) -> ServerProcess:
    """Start ``flightlog serve`` on ``port`` (default: a free one); wait until /healthz answers."""
    port = port or free_port()
    out, err = workdir / f"serve-{port}.out", workdir / f"serve-{port}.err"
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(
            [sys.executable, "-c", CLI, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            env={**os.environ, **env},
            cwd=workdir,
            stdout=o,
            stderr=e,
            start_new_session=True,
        )
    server = ServerProcess(proc, f"http://127.0.0.1:{port}", out, err)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {err.read_text()[-2000:]}")
        try:
            if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.signal(signal.SIGKILL)
            raise RuntimeError(f"server did not start: {err.read_text()[-2000:]}")
        time.sleep(0.05)


def stop_server(server: ServerProcess, signum: int = signal.SIGTERM) -> int:
    """Stop the server with ``signum`` and return its exit status."""
    server.signal(signum)
    try:
        return server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.signal(signal.SIGKILL)
        return server.proc.wait(timeout=30)
