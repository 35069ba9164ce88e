"""The server log on every error path: no token, no body, short lines, bounded input."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request

from flightlog.config import DEFAULT_ORIGIN, Settings
from flightlog.server import body as body_module
from flightlog.server.app import create_app
from flightlog.server.body import MAX_HEADER_BYTES
from tests.hostile.conftest import BODY_MARKER, assert_log_clean, log_events, marked
from tests.server.events import deployed
from tests.server.harness import (
    admin_token,
    problem,
    serving,
    start_server,
    stop_server,
    uvicorn_in_thread,
)


def _buggy_app(settings: Settings) -> FastAPI:
    app = create_app(settings, checkpoint_interval=3600)

    async def broken(request: Request) -> None:
        payload = await request.body()
        authorization = request.headers["authorization"]
        # Locals and the message both hold the secrets a careless log would print.
        raise RuntimeError(f"failed on {payload!r} with {authorization}")

    app.add_api_route("/broken", broken, methods=["POST"])
    return app


def test_a_500_logs_neither_token_nor_body(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unhandled error logs its type and frames only: no message, locals, token or body."""
    with serving(_buggy_app(sqlite_settings)) as client:
        token = admin_token(sqlite_settings)
        for _ in range(3):
            r = client.post(
                "/broken",
                content=json.dumps(marked(deployed(0))),
                headers={"Authorization": f"Bearer {token}"},
            )
            assert r.status_code == 500
            assert problem(r)["type"] == "urn:flightlog:problem:internal"
    log = capsys.readouterr().err
    assert_log_clean(log, [token, BODY_MARKER, "failed on"])
    errors = [e for e in log_events(log) if e["event"] == "unhandled_error"]
    assert len(errors) == 3
    assert errors[0]["exception"]["type"] == "builtins.RuntimeError"
    assert any("broken" in frame for frame in errors[0]["exception"]["frames"])


@dataclass
class Live:
    """A uvicorn server with the production HTTP limits, in a thread."""

    host: str
    port: int
    token: str

    def raw(self, data: bytes, *, read: bool = True, timeout: float = 10) -> bytes:
        """Send raw bytes on a fresh connection and return what comes back."""
        with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
            sock.sendall(data)
            if not read:
                return b""
            chunks = []
            try:
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
            except (TimeoutError, ConnectionResetError):
                pass
            return b"".join(chunks)


@pytest.fixture
def live(sqlite_settings: Settings) -> Iterator[Live]:
    """The app under uvicorn with ``HTTP_LIMITS`` on a free port."""
    with uvicorn_in_thread(sqlite_settings) as port:
        yield Live("127.0.0.1", port, admin_token(sqlite_settings))


def _request_head(live: Live, length: int) -> bytes:
    return (
        f"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {live.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def test_abandoned_uploads_are_one_short_line_each(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    """Uploads the client abandons log one short line each, without token or body."""
    partial = json.dumps(marked(deployed(0))).encode()[:80] + BODY_MARKER.encode()
    for _ in range(5):
        live.raw(_request_head(live, 100_000) + partial, read=False)
    time.sleep(1.0)
    assert httpx.get(f"http://{live.host}:{live.port}/healthz").status_code == 200
    log = capsys.readouterr().err
    assert_log_clean(log, [live.token, BODY_MARKER])
    lines = [e for e in log_events(log) if e["event"] == "client_disconnected"]
    assert len(lines) == 5
    assert all("exception" not in e for e in lines)
    assert all(len(json.dumps(e)) < 300 for e in lines)


def test_oversized_headers_are_refused_unread(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    """A header line past MAX_HEADER_BYTES gets 400 without the server buffering it."""
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (4 * MAX_HEADER_BYTES)
    answer = live.raw(head + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    assert httpx.get(f"http://{live.host}:{live.port}/healthz").status_code == 200
    assert_log_clean(capsys.readouterr().err, [live.token])


def test_a_head_of_many_headers_over_the_limit_is_refused(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    """Many short headers that add up to more than MAX_HEADER_BYTES get 400."""
    lines = b"".join(b"X-Many-%d: %s\r\n" % (i, b"b" * 1000) for i in range(80))
    assert len(lines) > MAX_HEADER_BYTES
    answer = live.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    assert httpx.get(f"http://{live.host}:{live.port}/healthz").status_code == 200
    assert_log_clean(capsys.readouterr().err, [live.token])


def test_a_head_trickling_in_past_the_limit_is_cut_off(live: Live) -> None:
    """A head that keeps arriving in small reads and never ends is answered 400 and closed."""
    with socket.create_connection((live.host, live.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        sent, answer = 0, b""
        while sent < 8 * MAX_HEADER_BYTES:
            try:
                sock.sendall(b"c" * 4096)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 4096
            time.sleep(0.002)
        with contextlib.suppress(ConnectionResetError):
            answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:100]
    assert sent < 8 * MAX_HEADER_BYTES


def test_a_head_under_the_limit_is_served(live: Live) -> None:
    """A long head that stays under MAX_HEADER_BYTES is answered normally."""
    big = b"d" * (MAX_HEADER_BYTES - 1024)
    answer = live.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + big + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200"), answer[:100]


def test_a_stalled_body_times_out(
    live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A body that stops arriving is answered 408 after the stall timeout."""
    monkeypatch.setattr(body_module, "BODY_STALL_SECONDS", 0.5)
    started = time.monotonic()
    answer = live.raw(_request_head(live, 1000) + BODY_MARKER.encode(), timeout=10)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert time.monotonic() - started < 8
    assert_log_clean(capsys.readouterr().err, [live.token, BODY_MARKER])


def test_serve_warns_on_the_default_origin_and_can_publish_metrics(tmp_path: Path) -> None:
    """`serve --public-metrics` with the default origin warns on stderr and serves /metrics openly."""
    env = {
        "FLIGHTLOG_DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}",
        "FLIGHTLOG_HOME": str(tmp_path / "home"),
        "FLIGHTLOG_ORIGIN": DEFAULT_ORIGIN,
    }
    server = start_server(env, tmp_path, "--public-metrics")
    try:
        assert httpx.get(server.url + "/metrics").status_code == 200
    finally:
        stop_server(server)
    warning = f"warning: this log signs its checkpoints as the default origin {DEFAULT_ORIGIN!r}"
    assert warning in server.stderr.read_text(encoding="utf-8")
