"""The real thing: ``flightlog serve`` as a uvicorn process on a free port."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from flightlog.config import Settings
from flightlog.service import Flightlog
from tests.server.events import deployed
from tests.server.harness import start_server, stop_server


class TestServeProcess:
    """One end-to-end run over TCP."""

    def test_serve_ingests_answers_and_stops_cleanly(self, tmp_path: Path) -> None:
        """serve prints its URL and token file; events round-trip; SIGTERM shuts down gracefully."""
        home = tmp_path / "home"
        env = {
            "FLIGHTLOG_DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}",
            "FLIGHTLOG_HOME": str(home),
        }
        server = start_server(env, tmp_path, "--checkpoint-interval", "3600")
        try:
            printed = server.output()
            assert f"Flightlog serving on {server.url}" in printed
            assert str(home / "admin.token") in printed
            token = (home / "admin.token").read_text().strip()
            assert token not in printed
            h = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=server.url, headers=h, timeout=10) as client:
                r = client.post("/api/v1/events/batch", json=[deployed(i) for i in range(5)])
                assert [x["index"] for x in r.json()["results"]] == [0, 1, 2, 3, 4]
                assert client.get("/api/v1/events/4").json()["leaf"]["id"] == "deploy-4"
                assert client.get("/readyz").json() == {"status": "ready"}
                assert r.headers["x-request-id"]
        finally:
            code = stop_server(server, signal.SIGTERM)
        # Uvicorn re-raises the signal it handled once shutdown is complete.
        assert code in (0, -signal.SIGTERM)
        assert "Finished server process" in server.stderr.read_text()
        with Flightlog.open(Settings.from_env(env)) as service:
            latest = service.latest_checkpoint()
            assert latest is not None
            assert latest.tree_size == 5
            assert service.verify().ok
