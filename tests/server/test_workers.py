"""``serve --workers 2`` on one SQLite file: two writers take turns, the log stays whole."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from flightlog.config import Settings
from flightlog.service import Flightlog
from tests.server.events import deployed
from tests.server.harness import start_server, stop_server

pytestmark = pytest.mark.slow

CLIENTS = 8
ROUNDS = 15


def _post(url: str, token: str, client_no: int) -> list[tuple[str, int]]:
    """Alternate single events and 5-event batches; return (id, acked index) pairs."""
    acked: list[tuple[str, int]] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        for n in range(ROUNDS):
            base = client_no * 1000 + n * 10
            if n % 2:
                r = client.post("/api/v1/events", json=deployed(base))
                assert r.status_code == 201, r.text
                acked.append((f"deploy-{base}", r.json()["index"]))
            else:
                events = [deployed(base + i) for i in range(5)]
                r = client.post("/api/v1/events/batch", json=events)
                assert r.status_code == 201, r.text
                indexes = [x["index"] for x in r.json()["results"]]
                # A batch is atomic and contiguous even with another process appending.
                assert indexes == list(range(indexes[0], indexes[0] + 5))
                acked += [(e["context"]["id"], i) for e, i in zip(events, indexes, strict=True)]
    return acked


class TestSqliteWorkers:
    """Two server processes over one SQLite file."""

    def test_concurrent_ingest_leaves_no_gap_and_no_duplicate(self, tmp_path: Path) -> None:
        """Every acked event sits at its own index, the indexes are 0..n-1, verify passes."""
        env = {
            "FLIGHTLOG_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}",
            "FLIGHTLOG_HOME": str(tmp_path / "home"),
        }
        server = start_server(env, tmp_path, "--workers", "2")
        try:
            token = (tmp_path / "home" / "admin.token").read_text().strip()
            with ThreadPoolExecutor(CLIENTS) as pool:
                runs = list(pool.map(lambda c: _post(server.url, token, c), range(CLIENTS)))
        finally:
            assert stop_server(server) == 0
        acked = dict(pair for run in runs for pair in run)
        assert sorted(acked.values()) == list(
            range(CLIENTS * (ROUNDS // 2 + 1) * 5 + CLIENTS * (ROUNDS // 2))
        )
        with Flightlog.open(Settings.from_env(env)) as service:
            report = service.verify()
            assert report.problem is None
            assert report.tree_size == len(acked)
            assert {service.show(i).leaf.id for i in acked.values()} == set(acked)

    def test_big_batches_through_prepare_processes_stay_whole(self, tmp_path: Path) -> None:
        """With --prepare-processes, big batches from two workers are contiguous and verify."""
        env = {
            "FLIGHTLOG_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}",
            "FLIGHTLOG_HOME": str(tmp_path / "home"),
        }
        size, batches = 150, 3  # 150 events are over the prepare processes' 64 KiB

        def post(client_no: int) -> list[int]:
            indexes: list[int] = []
            with httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {token}"}
            ) as c:
                for b in range(batches):
                    first = client_no * 10_000 + b * size
                    events = [deployed(first + i) for i in range(size)]
                    r = c.post("/api/v1/events/batch", json=events, timeout=60)
                    assert r.status_code == 201, r.text
                    got = [x["index"] for x in r.json()["results"]]
                    assert got == list(range(got[0], got[0] + size))
                    indexes += got
            return indexes

        server = start_server(env, tmp_path, "--workers", "2", "--prepare-processes", "1")
        try:
            token = (tmp_path / "home" / "admin.token").read_text().strip()
            with ThreadPoolExecutor(4) as pool:
                runs = list(pool.map(post, range(4)))
        finally:
            assert stop_server(server) == 0
        assert sorted(i for run in runs for i in run) == list(range(4 * batches * size))
        with Flightlog.open(Settings.from_env(env)) as service:
            assert service.verify().problem is None
