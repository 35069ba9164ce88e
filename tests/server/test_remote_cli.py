"""Every remote-capable CLI command through ``--server`` against a real server: the local answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flightlog.api import EventFilter
from flightlog.cli.app import app
from flightlog.service import Flightlog
from tests.factories import jsonl, service_deployed
from tests.server.harness import LiveServer


@pytest.fixture
def remote(live_server: LiveServer, tmp_path: Path) -> CliRunner:
    """A runner pointed at the live server; its local store and home are elsewhere."""
    return CliRunner(
        env={
            "FLIGHTLOG_SERVER": live_server.url,
            "FLIGHTLOG_TOKEN": live_server.admin,
            "FLIGHTLOG_DATABASE_URL": f"sqlite:///{tmp_path / 'client' / 'never.db'}",
            "FLIGHTLOG_HOME": str(tmp_path / "client-home"),
        }
    )


def own_output(text: str) -> str:
    """The command's own output: the in-process server's one-line JSON logs left out."""
    return "".join(
        line
        for line in text.splitlines(keepends=True)
        if not (line.startswith('{"') and '"event": "request"' in line)
    )


def run(cli: CliRunner, *args: str) -> str:
    """Run a command, require exit 0, return its output."""
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return own_output(result.output)


class TestEveryCommandThroughServer:
    """record, log, show, checkpoint, proofs, key and verify give the local service's answers."""

    @pytest.mark.slow
    def test_remote_answers_equal_local_answers(
        self, remote: CliRunner, live_server: LiveServer, tmp_path: Path
    ) -> None:
        """Each command's --json document through the server equals the service's own."""
        events = [service_deployed(i, service="a" if i % 2 else "b") for i in range(5)]
        path = tmp_path / "e.jsonl"
        path.write_bytes(jsonl(events))
        recorded = json.loads(run(remote, "record", "event", str(path), "--json"))
        assert [r["index"] for r in recorded] == [0, 1, 2, 3, 4]
        assert run(remote, "record", "event", str(path)).splitlines()[0] == (
            "0 (duplicate: already recorded)"
        )
        checkpoint = json.loads(run(remote, "checkpoint", "--json"))
        logged = json.loads(run(remote, "log", "--service", "a", "--json"))
        shown = json.loads(run(remote, "show", "3", "--json"))
        inclusion = json.loads(run(remote, "proof", "inclusion", "3", "--json"))
        consistency = json.loads(run(remote, "proof", "consistency", "2", "5", "--json"))
        key = run(remote, "key", "show").strip()
        verified = json.loads(run(remote, "verify", "--json"))

        service = Flightlog.open_for_reading(live_server.settings)
        try:
            assert checkpoint == service.latest_checkpoint().to_wire()  # type: ignore[union-attr]
            assert logged == {
                "events": [e.to_wire() for e in service.log(EventFilter(service="a"))],
                "next_cursor": None,
            }
            assert [d["index"] for d in logged["events"]] == [1, 3]
            assert shown == service.show(3).to_wire()
            assert inclusion == service.inclusion_proof(3).to_wire()
            assert consistency == service.consistency_proof(2, 5).to_wire()
            assert key == service.verifier_key()
        finally:
            service.close()
        assert (verified["ok"], verified["tree_size"], verified["first_use"]) == (True, 5, True)
        assert verified["root"] == checkpoint["root"]
        assert not (tmp_path / "client").exists()

    def test_an_invalid_event_names_the_users_line(self, remote: CliRunner, tmp_path: Path) -> None:
        """A 422 from the server names the file and line of the bad event, from its item."""
        bad = service_deployed(1)
        bad["context"]["id"] = ""  # type: ignore[index]
        path = tmp_path / "e.jsonl"
        path.write_bytes(jsonl([service_deployed(0), bad]))
        result = remote.invoke(app, ["record", "event", str(path)])
        assert result.exit_code == 1
        assert own_output(result.output).strip().splitlines() == [
            f"error: {path}:2: $.context.id: must not be empty"
        ]
