"""First use of the server: newest-first paging, warnings, and the CLI against a real server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flightlog.cli.app import app
from tests.server.events import deployed
from tests.server.harness import Api, LiveServer

EVENTS = "/api/v1/events"
BATCH = "/api/v1/events/batch"
MAX_BATCH = 10_000


def _seed(api: Api, n: int) -> None:
    r = api.client.post(BATCH, json=[deployed(i) for i in range(n)], headers=api.auth())
    assert r.status_code == 201


class TestNewestFirst:
    """``GET /api/v1/events?order=desc``."""

    def test_desc_pages_backwards_with_the_cursor(self, api: Api) -> None:
        """Pages of two over five entries, newest first: 4-3, 2-1, 0."""
        _seed(api, 5)
        pages, cursor = [], None
        while True:
            params: dict[str, Any] = {"limit": 2, "order": "desc"}
            if cursor is not None:
                params["cursor"] = cursor
            body = api.client.get(EVENTS, params=params, headers=api.auth()).json()
            pages.append([e["index"] for e in body["events"]])
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert pages == [[4, 3], [2, 1], [0]]

    def test_unknown_order_is_a_422(self, api: Api) -> None:
        """order=sideways answers 422."""
        r = api.client.get(EVENTS, params={"order": "sideways"}, headers=api.auth())
        assert r.status_code == 422


class TestWarnings:
    """Unknown customData.flightlog keys come back as warnings."""

    def test_single_event_answer_carries_warnings(self, api: Api) -> None:
        """A 'tiket' key is recorded but named in the answer's warnings."""
        event = deployed(0)
        event["customData"] = {"flightlog": {"tiket": "PAY-1", "commit": "abc"}}
        r = api.client.post(EVENTS, json=event, headers=api.auth())
        assert r.status_code == 201
        [warning] = r.json()["warnings"]
        assert "unknown key 'tiket' is ignored; did you mean 'ticket'?" in warning

    def test_batch_warnings_name_positions(self, api: Api) -> None:
        """A batch answer lists warnings with the [i] of their event; clean events add none."""
        events = [deployed(0), deployed(1)]
        events[1]["customData"] = {"flightlog": {"enviroment": "prod"}}
        r = api.client.post(BATCH, json=events, headers=api.auth())
        body = r.json()
        assert [w.split(":")[0] for w in body["warnings"]] == ["[1]"]
        assert "'enviroment'" in body["warnings"][0]

    def test_no_warnings_no_member(self, api: Api) -> None:
        """An answer without warnings has no warnings member."""
        r = api.client.post(EVENTS, json=deployed(0), headers=api.auth())
        assert "warnings" not in r.json()
        r = api.client.post(BATCH, json=[deployed(1)], headers=api.auth())
        assert "warnings" not in r.json()


def _errors(stderr: str) -> list[str]:
    """The CLI's error lines (the server in this process logs to the same stderr)."""
    return [line for line in stderr.splitlines() if not line.startswith("{")]


@pytest.fixture
def cli(tmp_path: Path) -> CliRunner:
    """A runner with no server or token in its environment and its own home."""
    return CliRunner(
        env={"FLIGHTLOG_SERVER": "", "FLIGHTLOG_TOKEN": "", "FLIGHTLOG_HOME": str(tmp_path)}
    )


@pytest.mark.slow
class TestCliAgainstTheRealServer:
    """The CLI through --server, as the README shows it."""

    def test_verify_takes_server_after_the_command(
        self, cli: CliRunner, live_server: LiveServer
    ) -> None:
        """`flightlog verify --server URL` verifies, as `flightlog --server URL verify` does."""
        base = ["--token", live_server.admin]
        result = cli.invoke(app, [*base, "checkpoint", "--server", live_server.url])
        assert result.exit_code != 0  # only verify has its own --server
        result = cli.invoke(app, [*base, "verify", "--server", live_server.url, "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["ok"] is True

    def test_url_with_api_prefix_works(self, cli: CliRunner, live_server: LiveServer) -> None:
        """A server URL ending in /api/v1/ reaches the API."""
        url = live_server.url + "/api/v1/"
        result = cli.invoke(app, ["--server", url, "--token", live_server.admin, "key", "show"])
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(f"{live_server.settings.origin}+")

    def test_missing_token_says_what_to_set(self, cli: CliRunner, live_server: LiveServer) -> None:
        """Without a token, one line names FLIGHTLOG_TOKEN, --token and admin.token."""
        result = cli.invoke(app, ["--server", live_server.url, "log"])
        assert result.exit_code == 1
        [line] = _errors(result.stderr)
        assert "FLIGHTLOG_TOKEN" in line and "--token" in line and "admin.token" in line

    def test_late_failure_prints_recorded_indices(
        self, cli: CliRunner, live_server: LiveServer, tmp_path: Path
    ) -> None:
        """A conflict in the second batch: the first 10,000 indices print, then exit 1."""
        base = ["--server", live_server.url, "--token", live_server.admin]
        first = tmp_path / "one.json"
        first.write_text(json.dumps(deployed(MAX_BATCH)))
        assert cli.invoke(app, [*base, "record", "event", str(first)]).exit_code == 0
        events = [deployed(i) for i in range(MAX_BATCH)] + [deployed(MAX_BATCH, env="staging")]
        upload = tmp_path / "many.jsonl"
        upload.write_text("\n".join(json.dumps(e) for e in events))
        result = cli.invoke(app, [*base, "record", "event", str(upload)])
        assert result.exit_code == 1
        assert [int(x) for x in result.stdout.split()] == list(range(1, MAX_BATCH + 1))
        [line] = _errors(result.stderr)
        assert "the 10000 events before it were recorded" in line
