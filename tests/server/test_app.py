"""The app as a whole: first start, periodic checkpoints, logs, and problem documents."""

from __future__ import annotations

import gc
import json
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from flightlog.auth.tokens import list_tokens
from flightlog.config import Settings
from flightlog.server.app import app_from_env, create_app, cut_if_grown
from flightlog.server.ingest import COLLECTOR_THRESHOLD
from flightlog.service import Flightlog
from tests.server.events import deployed
from tests.server.harness import Api, admin_token, problem, serving


def _log_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


class TestFirstStart:
    """The first admin token."""

    def test_first_start_writes_an_admin_token_file(self, sqlite_settings: Settings) -> None:
        """On a fresh store the app creates 'admin' and writes it 0600; it authenticates."""
        with serving(create_app(sqlite_settings)) as client:
            path = sqlite_settings.admin_token_path
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            r = client.get(
                "/api/v1/events",
                headers={"Authorization": f"Bearer {admin_token(sqlite_settings)}"},
            )
            assert r.status_code == 200

    def test_restart_keeps_the_existing_token(self, sqlite_settings: Settings) -> None:
        """A second start neither creates another token nor rewrites the file."""
        with serving(create_app(sqlite_settings)):
            pass
        first = admin_token(sqlite_settings)
        with serving(create_app(sqlite_settings)) as client:
            assert admin_token(sqlite_settings) == first
            assert (
                client.get(
                    "/api/v1/events", headers={"Authorization": f"Bearer {first}"}
                ).status_code
                == 200
            )
        service = Flightlog.open(sqlite_settings)
        try:
            assert [t.name for t in list_tokens(service.tokens)] == ["admin"]
        finally:
            service.close()

    def test_startup_logs_only_the_token_path(
        self, sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The first-start log line names the file and never contains the secret."""
        with serving(create_app(sqlite_settings)):
            pass
        err = capsys.readouterr().err
        secret = admin_token(sqlite_settings)
        assert secret not in err
        created = [x for x in _log_lines(err) if x["event"] == "first_admin_token_created"]
        assert created[0]["path"] == str(sqlite_settings.admin_token_path)


class TestCheckpoints:
    """Periodic and final checkpoints."""

    def test_cut_if_grown(self, sqlite_settings: Settings) -> None:
        """No growth, no new checkpoint; growth, a new one of the new size."""
        service = Flightlog.open(sqlite_settings)
        try:
            first = cut_if_grown(service)
            assert first is not None
            assert first.tree_size == 0
            assert cut_if_grown(service) is None
            service.record([service.prepare(deployed(0), position="t")])
            grown = cut_if_grown(service)
            assert grown is not None
            assert grown.tree_size == 1
        finally:
            service.close()

    def test_the_ticker_cuts_after_growth(self, sqlite_settings: Settings) -> None:
        """With a 50 ms interval, a checkpoint covering a new event appears on its own."""
        app = create_app(sqlite_settings, checkpoint_interval=0.05)
        with serving(app) as client:
            h = {"Authorization": f"Bearer {admin_token(sqlite_settings)}"}
            client.post("/api/v1/events", json=deployed(0), headers=h)
            service = app.state.server.flightlog
            deadline = time.monotonic() + 10
            while getattr(service.latest_checkpoint(), "tree_size", None) != 1:
                assert time.monotonic() < deadline, "no checkpoint was cut"
                time.sleep(0.02)

    def test_shutdown_cuts_a_final_checkpoint(self, sqlite_settings: Settings) -> None:
        """Stopping the app leaves a checkpoint covering every acknowledged event."""
        with serving(create_app(sqlite_settings)) as client:
            h = {"Authorization": f"Bearer {admin_token(sqlite_settings)}"}
            client.post("/api/v1/events/batch", json=[deployed(i) for i in range(3)], headers=h)
        service = Flightlog.open(sqlite_settings)
        try:
            latest = service.latest_checkpoint()
            assert latest is not None
            assert latest.tree_size == 3
        finally:
            service.close()

    def test_given_service_is_left_open(self, sqlite_settings: Settings) -> None:
        """An injected service is not closed by the app's shutdown."""
        service = Flightlog.open(sqlite_settings)
        try:
            with serving(create_app(sqlite_settings, flightlog=service)):
                pass
            assert service.tree_size() == 0
            assert service.checkpoint().tree_size == 0
        finally:
            service.close()


class TestCollector:
    """The cycle collector while the app serves."""

    def test_serving_tunes_the_collector_and_restores_it(self, sqlite_settings: Settings) -> None:
        """Young collections are rarer and startup objects frozen; afterwards all is as before."""
        before = gc.get_threshold()
        frozen = gc.get_freeze_count()
        with serving(create_app(sqlite_settings)):
            assert gc.get_threshold() == (COLLECTOR_THRESHOLD, *before[1:])
            assert gc.get_freeze_count() > frozen
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() == 0

    def test_what_the_host_froze_stays_frozen(self, sqlite_settings: Settings) -> None:
        """Objects frozen before the app started are not thawed when it stops."""
        gc.freeze()
        try:
            frozen = gc.get_freeze_count()
            assert frozen > 0
            with serving(create_app(sqlite_settings)):
                assert gc.get_freeze_count() >= frozen
            assert gc.get_freeze_count() >= frozen
        finally:
            gc.unfreeze()

    def test_a_higher_threshold_is_kept(self, sqlite_settings: Settings) -> None:
        """A process already collecting less often is not made to collect more often."""
        before = gc.get_threshold()
        gc.set_threshold(COLLECTOR_THRESHOLD * 2, *before[1:])
        try:
            with serving(create_app(sqlite_settings)):
                assert gc.get_threshold()[0] == COLLECTOR_THRESHOLD * 2
        finally:
            gc.set_threshold(*before)


class TestLogging:
    """JSON lines with request ids, and nothing secret."""

    def test_request_id_is_echoed_and_bound_on_the_access_line(
        self, sqlite_api: Api, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A given X-Request-ID comes back and appears on the access line with route and status."""
        r = sqlite_api.client.get(
            "/api/v1/events/0", headers={**sqlite_api.auth(), "X-Request-ID": "req-42"}
        )
        assert r.headers["x-request-id"] == "req-42"
        lines = [x for x in _log_lines(capsys.readouterr().err) if x.get("request_id") == "req-42"]
        access = [x for x in lines if x["event"] == "request"]
        assert len(access) == 1
        assert access[0]["route"] == "/api/v1/events/{index}"
        assert access[0]["method"] == "GET"
        assert access[0]["status"] == 404
        assert access[0]["duration_ms"] >= 0

    def test_unsafe_request_id_is_replaced(self, sqlite_api: Api) -> None:
        """An X-Request-ID with spaces or quotes is not echoed; a fresh one is."""
        r = sqlite_api.client.get("/healthz", headers={"X-Request-ID": 'bad id"\\'})
        assert r.headers["x-request-id"] != 'bad id"\\'
        assert len(r.headers["x-request-id"]) == 32

    def test_tokens_and_bodies_are_never_logged(
        self, sqlite_api: Api, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """After ingest with a bearer token, neither the token nor the event body is in the logs."""
        event = deployed(0, service="very-unique-service-name")
        sqlite_api.client.post("/api/v1/events", json=event, headers=sqlite_api.auth())
        sqlite_api.client.get("/api/v1/events", headers=sqlite_api.auth("fl_wrong-token-value"))
        err = capsys.readouterr().err
        assert sqlite_api.admin not in err
        assert "fl_wrong-token-value" not in err
        assert "very-unique-service-name" not in err
        assert "Bearer" not in err
        assert len([x for x in _log_lines(err) if x["event"] == "request"]) == 2


def _buggy_app(settings: Settings) -> FastAPI:
    app = create_app(settings)

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken)
    return app


class TestProblems:
    """Every error is application/problem+json."""

    def test_a_real_bug_is_a_logged_500_problem(
        self, sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An unhandled exception answers 500 problem+json with the request id, and is logged."""
        with serving(_buggy_app(sqlite_settings)) as client:
            r = client.get("/broken", headers={"X-Request-ID": "bug-1"})
        body = problem(r)
        assert r.status_code == 500
        assert body["request_id"] == "bug-1"
        assert "a bug" not in body["detail"]
        errors = [x for x in _log_lines(capsys.readouterr().err) if x["event"] == "unhandled_error"]
        assert errors[0]["request_id"] == "bug-1"
        assert errors[0]["exception"]["type"] == "builtins.RuntimeError"
        assert "a bug" not in json.dumps(errors[0])

    def test_unknown_route_is_a_404_problem(self, sqlite_api: Api) -> None:
        """A path nobody serves answers 404 problem+json."""
        r = sqlite_api.client.get("/api/v1/nothing")
        assert r.status_code == 404
        assert problem(r)["type"] == "about:blank"

    def test_wrong_method_is_a_405_problem(self, sqlite_api: Api) -> None:
        """DELETE on /api/v1/events answers 405 problem+json."""
        r = sqlite_api.client.request("DELETE", "/api/v1/events", headers=sqlite_api.auth())
        assert r.status_code == 405
        assert problem(r)["title"] == "Method Not Allowed"

    def test_validation_errors_do_not_echo_input(self, sqlite_api: Api) -> None:
        """A 422 for a bad query lists loc and msg only, never the rejected value."""
        r = sqlite_api.client.get(
            "/api/v1/proof/inclusion", params={"index": "secret-value"}, headers=sqlite_api.auth()
        )
        body = problem(r)
        assert body["errors"] == [
            {
                "loc": "query.index",
                "msg": "Input should be a valid integer, unable to parse string as an integer",
            }
        ]
        assert "secret-value" not in r.text


class TestFactory:
    """app_from_env, the per-worker factory of ``serve --workers N``."""

    def test_builds_from_the_environment(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The factory reads FLIGHTLOG_* and the checkpoint interval from the environment."""
        monkeypatch.setenv("FLIGHTLOG_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
        monkeypatch.setenv("FLIGHTLOG_HOME", str(tmp_path / "envhome"))
        monkeypatch.setenv("FLIGHTLOG_CHECKPOINT_INTERVAL", "0.05")
        app = app_from_env()
        with serving(app) as client:
            token = (tmp_path / "envhome" / "admin.token").read_text().strip()
            r = client.post(
                "/api/v1/events", json=deployed(0), headers={"Authorization": f"Bearer {token}"}
            )
            assert r.status_code == 201
            service = app.state.server.flightlog
            assert service.settings.database_url.endswith("env.db")
            deadline = time.monotonic() + 10
            while getattr(service.latest_checkpoint(), "tree_size", None) != 1:
                assert time.monotonic() < deadline, "the 50 ms interval was not applied"
                time.sleep(0.02)
