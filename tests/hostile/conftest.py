"""The hostile-input suite: every server test here also greps the server's log.

Every body these tests send carries ``BODY_MARKER``; after each test the captured log
must hold neither that marker nor the admin token (nor any token a test created).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from flightlog.config import Settings
from flightlog.server.app import create_app
from tests.server.harness import Api, admin_token, serving

BODY_MARKER = "HOSTILE-BODY-7f3a"


@pytest.fixture
def secrets() -> list[str]:
    """Strings that must never appear in the server log (tests append their tokens)."""
    return [BODY_MARKER]


@pytest.fixture
def api(
    settings: Settings, capsys: pytest.CaptureFixture[str], secrets: list[str]
) -> Iterator[Api]:
    """The app over a fresh store (SQLite and PostgreSQL); its log is checked afterwards."""
    app = create_app(settings, checkpoint_interval=3600)
    with serving(app) as client:
        handle = Api(app=app, client=client, admin=admin_token(settings))
        secrets.append(handle.admin)
        yield handle
    assert_log_clean(capsys.readouterr().err, secrets)


def assert_log_clean(log: str, secrets: list[str]) -> None:
    """No line of ``log`` holds a secret, and every line is short JSON."""
    for line in log.splitlines():
        for secret in secrets:
            assert secret not in line, f"{secret[:8]}… leaked into the log: {line[:300]}"
        assert len(line) <= 8192


def log_events(log: str) -> list[dict[str, Any]]:
    """The JSON log lines of ``log`` (other output is skipped)."""
    out = []
    for line in log.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def marked(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with the body marker in its customData."""
    return {**event, "customData": {"note": BODY_MARKER}}
