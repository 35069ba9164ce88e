"""Probes and metrics: /healthz, /readyz, /metrics."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from flightlog.config import Settings
from flightlog.server.app import create_app
from tests.server.events import DEPLOYED, deployed
from tests.server.harness import Api, admin_token, problem, serving


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


class TestProbes:
    """Liveness and readiness."""

    def test_healthz(self, sqlite_api: Api) -> None:
        """/healthz answers {status: ok}."""
        r = sqlite_api.client.get("/healthz")
        assert r.json() == {"status": "ok"}

    def test_readyz_when_the_database_answers(self, api: Api) -> None:
        """/readyz answers {status: ready} on both stores."""
        r = api.client.get("/readyz")
        assert (r.status_code, r.json()) == (200, {"status": "ready"})

    def test_readyz_is_503_when_the_database_is_gone(self, tmp_path: Path) -> None:
        """With the SQLite directory moved away, /readyz and reads answer 503 problem+json."""
        db_dir = tmp_path / "db"
        settings = Settings(database_url=f"sqlite:///{db_dir / 'f.db'}", home=tmp_path / "home")
        app = create_app(settings, checkpoint_interval=3600)
        with serving(app) as client:
            app.state.server.flightlog.store.engine.dispose()
            shutil.move(db_dir, tmp_path / "elsewhere")
            r = client.get("/readyz")
            assert r.status_code == 503
            assert "database unreachable" in problem(r)["detail"]
            token = {"Authorization": f"Bearer {admin_token(settings)}"}
            r = client.get("/api/v1/events", headers=token)
            assert r.status_code == 503
            assert r.headers["retry-after"] == "5"
            assert str(db_dir) not in problem(r)["detail"]
            shutil.move(tmp_path / "elsewhere", db_dir)
            assert client.get("/readyz").status_code == 200


class TestMetrics:
    """The Prometheus exposition."""

    def test_ingested_events_are_counted_by_type_and_source(self, sqlite_api: Api) -> None:
        """Two new events and one duplicate count 2 for their type and source."""
        h = sqlite_api.auth()
        sqlite_api.client.post("/api/v1/events/batch", json=[deployed(0), deployed(1)], headers=h)
        sqlite_api.client.post("/api/v1/events", json=deployed(0), headers=h)
        samples = _samples(sqlite_api.client.get("/metrics").text)
        key = (
            "flightlog_events_ingested_total",
            (("source", "https://ci.example.com/acme/payments"), ("type", DEPLOYED)),
        )
        assert samples[key] == 2.0

    def test_latency_is_labelled_by_route_template(self, sqlite_api: Api) -> None:
        """GET /api/v1/events/0 and /1 are observed under /api/v1/events/{index}, never raw."""
        h = sqlite_api.auth()
        sqlite_api.client.post("/api/v1/events/batch", json=[deployed(0), deployed(1)], headers=h)
        sqlite_api.client.get("/api/v1/events/0", headers=h)
        sqlite_api.client.get("/api/v1/events/1", headers=h)
        sqlite_api.client.get("/no/such/path")
        text = sqlite_api.client.get("/metrics").text
        samples = _samples(text)
        count = (
            "flightlog_http_request_duration_seconds_count",
            (("method", "GET"), ("route", "/api/v1/events/{index}")),
        )
        assert samples[count] == 2.0
        assert (
            "flightlog_http_request_duration_seconds_count",
            (("method", "GET"), ("route", "<unmatched>")),
        ) in samples
        assert not re.search(r'route="/api/v1/events/\d', text)
        assert "/no/such/path" not in text

    def test_tree_size_and_checkpoint_age(self, sqlite_api: Api) -> None:
        """The gauges show 3 leaves and a fresh checkpoint age (-1 before the first)."""
        h = sqlite_api.auth()
        before = _samples(sqlite_api.client.get("/metrics").text)
        assert before[("flightlog_checkpoint_age_seconds", ())] == -1.0
        sqlite_api.client.post(
            "/api/v1/events/batch", json=[deployed(i) for i in range(3)], headers=h
        )
        sqlite_api.client.post("/api/v1/checkpoint", headers=h)
        after = _samples(sqlite_api.client.get("/metrics").text)
        assert after[("flightlog_tree_size", ())] == 3.0
        assert 0 <= after[("flightlog_checkpoint_age_seconds", ())] < 60

    def test_each_app_has_its_own_registry(self, sqlite_settings: Settings) -> None:
        """Two apps in one process count separately: one's ingest is not in the other's."""
        first, second = create_app(sqlite_settings), create_app(sqlite_settings)
        with serving(first) as one, serving(second) as two:
            h = {"Authorization": f"Bearer {admin_token(sqlite_settings)}"}
            assert one.post("/api/v1/events", json=deployed(0), headers=h).status_code == 201
            assert "flightlog_events_ingested_total{" in one.get("/metrics").text
            assert "flightlog_events_ingested_total{" not in two.get("/metrics").text
