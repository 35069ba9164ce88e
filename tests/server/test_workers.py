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
