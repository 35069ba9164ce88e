"""Fixtures: a running app over a real store, called in-process or through uvicorn."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from flightlog.config import Settings
from flightlog.server.app import create_app
from tests.server.harness import Api, LiveServer, admin_token, free_port, serving


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    """The app over ``settings`` (SQLite and PostgreSQL), started, with a client."""
    app = create_app(settings, checkpoint_interval=3600)
    with serving(app) as client:
        yield Api(app=app, client=client, admin=admin_token(settings))


@pytest.fixture
def sqlite_api(sqlite_settings: Settings) -> Iterator[Api]:
    """The app over a fresh SQLite file only."""
    app = create_app(sqlite_settings, checkpoint_interval=3600)
    with serving(app) as client:
        yield Api(app=app, client=client, admin=admin_token(sqlite_settings))


@pytest.fixture
def live_server(sqlite_settings: Settings) -> Iterator[LiveServer]:
    """Uvicorn serving the app on a free port of 127.0.0.1."""
    port = free_port()
    config = uvicorn.Config(
        create_app(sqlite_settings, checkpoint_interval=3600),
        host="127.0.0.1",
        port=port,
        access_log=False,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", admin_token(sqlite_settings), sqlite_settings)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
