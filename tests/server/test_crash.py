"""Acknowledged means durable: SIGKILL the server mid-stream, restart, nothing acked is lost."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from flightlog.config import Settings
from flightlog.service import Flightlog
from tests.server.events import deployed
from tests.server.harness import start_server, stop_server

pytestmark = pytest.mark.slow

CLIENTS = 8
TARGET_ACKS = 400


def _stream(
    url: str,
    token: str,
    worker: int,
    acked: dict[str, int],
    lock: threading.Lock,
    stop: threading.Event,
) -> None:
    """Post single events and small batches until the server dies or ``stop`` is set."""
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        n = 0
        while not stop.is_set():
            base = worker * 1_000_000 + n
            events = [deployed(base)] if n % 4 else [deployed(base + i) for i in range(10)]
            n += len(events)
            try:
                if len(events) == 1:
                    r = client.post("/api/v1/events", json=events[0])
                    results = [r.json()] if r.status_code in (200, 201) else []
                else:
                    r = client.post("/api/v1/events/batch", json=events)
                    results = r.json()["results"] if r.status_code in (200, 201) else []
            except (httpx.TransportError, ValueError):
                return
            with lock:
                for event, result in zip(events, results, strict=False):
                    acked[event["context"]["id"]] = result["index"]


def _ledger_ids(url: str, token: str) -> dict[int, str]:
    """Every entry's index and event id, read back page by page over HTTP."""
    out: dict[int, str] = {}
    cursor = None
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        while True:
            params: dict[str, str | int] = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            page = client.get("/api/v1/events", params=params).json()
            out.update({e["index"]: e["leaf"]["id"] for e in page["events"]})
            cursor = page["next_cursor"]
            if cursor is None:
                return out


class TestCrash:
    """SIGKILL during concurrent ingest."""

    def test_every_acknowledged_event_survives_sigkill(
        self, database_url: str, tmp_path: Path
    ) -> None:
        """After a kill -9 and a restart, each acked id sits at its acked index and verify passes."""
        env = {"FLIGHTLOG_DATABASE_URL": database_url, "FLIGHTLOG_HOME": str(tmp_path / "home")}
        # On PostgreSQL, two worker processes with their own writers share the log.
        args = [] if database_url.startswith("sqlite") else ["--workers", "2"]
        server = start_server(env, tmp_path, *args)
        token = (tmp_path / "home" / "admin.token").read_text().strip()
        acked: dict[str, int] = {}
        lock, stop = threading.Lock(), threading.Event()
        threads = [
            threading.Thread(target=_stream, args=(server.url, token, w, acked, lock, stop))
            for w in range(CLIENTS)
        ]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acked) < TARGET_ACKS and time.monotonic() < deadline:
            time.sleep(0.01)
        server.signal(signal.SIGKILL)
        server.proc.wait(timeout=30)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert len(acked) >= TARGET_ACKS, "the stream was too slow to test anything"

        restarted = start_server(env, tmp_path, *args)
        try:
            ids = _ledger_ids(restarted.url, token)
        finally:
            stop_server(restarted)
        missing = {i: idx for i, idx in acked.items() if ids.get(idx) != i}
        assert missing == {}
        assert sorted(ids) == list(range(len(ids)))
        assert len(set(acked.values())) == len(acked)

        with Flightlog.open(Settings.from_env(env)) as service:
            report = service.verify()
        assert report.problem is None
        assert report.tree_size == len(ids) >= len(acked)
