"""The question API: /api/v1/trace, /diff, /suspects, /search, /timeline, and the remote client."""

from __future__ import annotations

from datetime import UTC, datetime

from flightlog.client.http import RemoteFlightlog
from flightlog.service import Flightlog
from tests.lineage.conftest import record_history
from tests.server.harness import Api, LiveServer, problem


class TestLineageApi:
    def test_answers_equal_the_service(self, api: Api) -> None:
        """Each route answers what the local service answers, on SQLite and PostgreSQL."""
        fl = api.flightlog
        record_history(fl)
        at = "2026-11-09T00:12:00Z"
        moment = datetime(2026, 11, 9, 0, 12, tzinfo=UTC)
        r = api.client.get(
            "/api/v1/trace/production/payments", params={"at": at}, headers=api.auth()
        )
        assert r.status_code == 200, r.text
        assert r.json() == fl.trace("production/payments", at=moment)
        assert r.json()["deployment"]["version"] == "1.6.0"
        r = api.client.get(
            "/api/v1/diff",
            params={
                "target": "production/payments",
                "from": "1.4.0",
                "to": "payments/production/4",
            },
            headers=api.auth(),
        )
        assert r.json()["tickets"] == ["PAY-110", "PAY-111", "PAY-120", "PAY-121"]
        r = api.client.get(
            "/api/v1/suspects",
            params={"env": "production", "at": at, "window": 4 * 86400},
            headers=api.auth(),
        )
        assert r.json()["suspects"][0]["deployment"]["version"] == "1.6.0"
        r = api.client.get("/api/v1/search", params={"q": "CVE-2026-4242"}, headers=api.auth())
        assert len(r.json()["results"]) == 1
        r = api.client.get("/api/v1/timeline", params={"system": "database"}, headers=api.auth())
        assert [e["summary"] for e in r.json()["events"]] == [
            "PAY-111 drop the legacy ledger column"
        ]

    def test_unknown_names_are_404_problems(self, sqlite_api: Api) -> None:
        """An unknown service is a 404 problem naming the nearest known one."""
        record_history(sqlite_api.flightlog)
        r = sqlite_api.client.get("/api/v1/trace/production/paymnts", headers=sqlite_api.auth())
        assert r.status_code == 404
        assert "did you mean payments?" in problem(r)["detail"]

    def test_read_scope_required(self, sqlite_api: Api) -> None:
        """An ingest-only token may not ask questions; the routes are in the OpenAPI document."""
        token = sqlite_api.token("ingest")
        r = sqlite_api.client.get(
            "/api/v1/search", params={"q": "x"}, headers=sqlite_api.auth(token)
        )
        assert r.status_code == 403
        paths = sqlite_api.client.get("/openapi.json").json()["paths"]
        for path in (
            "/api/v1/trace/{environment}/{service}",
            "/api/v1/diff",
            "/api/v1/suspects",
            "/api/v1/search",
            "/api/v1/timeline",
        ):
            assert path in paths


class TestRemoteClient:
    def test_remote_answers_equal_local(self, live_server: LiveServer) -> None:
        """RemoteFlightlog's questions return the local answers over real HTTP."""
        with Flightlog.open(live_server.settings) as fl:
            record_history(fl)
            local = fl.trace("production/web")
            local_diff = fl.diff("production/payments", "1.4.0", "payments/production/4")
        remote = RemoteFlightlog(live_server.url, live_server.admin)
        try:
            assert remote.trace("production/web") == local
            assert (
                remote.diff("production/payments", "1.4.0", "payments/production/4") == local_diff
            )
            assert remote.search("WEB-31")["results"]
            moment = datetime(2026, 11, 9, 0, 12, tzinfo=UTC)
            assert remote.suspects("production", at=moment, window_seconds=86400)["suspects"]
            assert remote.timeline(environment="production", limit=3)["events"]
        finally:
            remote.close()
