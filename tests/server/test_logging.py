"""Tests of the access line: rendered directly, exactly as the structlog chain renders it."""

from __future__ import annotations

import json

import pytest
import structlog

from flightlog.server.logging import MAX_VALUE_CHARS, access_line, configure_logging


def _chain_line(capsys: pytest.CaptureFixture[str], **fields: object) -> str:
    configure_logging()
    with structlog.contextvars.bound_contextvars(request_id="req-1"):
        structlog.get_logger("flightlog.access").info("request", **fields)
    return capsys.readouterr().err.strip()


def _untimed(line: str) -> str:
    return line.rsplit(', "timestamp": ', 1)[0]


@pytest.mark.parametrize(
    ("method", "route", "status", "duration"),
    [
        ("POST", "/api/v1/events", 201, 1.234),
        ("GET", "/api/v1/events/{index}", 404, 0.0),
        ("PATCH", 'odd "route" ü', 500, 12345.678),
        ("GET", "/" + "r" * (MAX_VALUE_CHARS + 40), 200, 0.001),
    ],
)
def test_access_line_is_the_chain_line(
    capsys: pytest.CaptureFixture[str], method: str, route: str, status: int, duration: float
) -> None:
    """Same keys, order, spacing, caps and values as the structlog chain; only the time differs."""
    fields = {"method": method, "route": route, "status": status, "duration_ms": duration}
    chain = _chain_line(capsys, **fields)
    direct = access_line(method, route, status, duration, "req-1")
    assert _untimed(direct) == _untimed(chain)
    assert list(json.loads(direct)) == list(json.loads(chain))
    assert json.loads(direct)["timestamp"].endswith("Z")
