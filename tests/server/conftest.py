"""Fixtures: a running app over a real store, called in-process or through uvicorn."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flightlog.config import Settings
from flightlog.server.app import create_app
from tests.server.harness import Api, LiveServer, admin_token, serving, uvicorn_in_thread


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
    with uvicorn_in_thread(sqlite_settings) as port:
        yield LiveServer(f"http://127.0.0.1:{port}", admin_token(sqlite_settings), sqlite_settings)
