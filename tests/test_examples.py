"""The example release in `examples/` is valid and answers the README's questions."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from flightlog.cli.app import app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


class TestExampleRelease:
    def test_release_records_and_is_found_by_its_join_keys(self, tmp_path: Path) -> None:
        """Recording `release.jsonl` gives 6 entries; the ticket and artifact find the right ones."""
        runner = CliRunner(
            env={
                "FLIGHTLOG_DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}",
                "FLIGHTLOG_HOME": str(tmp_path / "home"),
                "FLIGHTLOG_SERVER": "",
            }
        )
        result = runner.invoke(app, ["record", "event", str(EXAMPLES / "release.jsonl")])
        assert result.exit_code == 0, result.output
        assert result.output.split() == ["0", "1", "2", "3", "4", "5"]
        by_ticket = json.loads(runner.invoke(app, ["log", "--ticket", "PAY-123", "--json"]).output)
        assert [d["index"] for d in by_ticket["events"]] == [0, 4]
        deployed = json.loads(
            runner.invoke(
                app, ["log", "--type", "service.deployed", "--env", "production", "--json"]
            ).output
        )["events"]
        assert [d["index"] for d in deployed] == [5]
        again = runner.invoke(
            app, ["record", "event", str(EXAMPLES / "service-deployed.json"), "--json"]
        )
        assert json.loads(again.output) == [
            {"index": 5, "leaf_hash": deployed[0]["leaf_hash"], "duplicate": True}
        ]
