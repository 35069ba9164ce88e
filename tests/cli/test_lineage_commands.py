"""flightlog trace, diff, suspects, search, timeline and rebuild on a local store."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from flightlog.cli.app import app
from flightlog.config import Settings
from flightlog.service import Flightlog
from tests.lineage.conftest import record_history


@pytest.fixture
def asked(sqlite_settings: Settings) -> CliRunner:
    """A runner over an SQLite store holding the demo history."""
    with Flightlog.open(sqlite_settings) as fl:
        record_history(fl)
    return CliRunner(
        env={
            "FLIGHTLOG_DATABASE_URL": sqlite_settings.database_url,
            "FLIGHTLOG_HOME": str(sqlite_settings.home),
            "FLIGHTLOG_ORIGIN": sqlite_settings.origin,
            "FLIGHTLOG_SERVER": "",
        }
    )


def _json(cli: CliRunner, *args: str) -> dict:  # type: ignore[type-arg]
    result = cli.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    doc: dict = json.loads(result.stdout)  # type: ignore[type-arg]
    return doc


class TestQuestions:
    def test_trace_tree_calls_out_gaps(self, asked: CliRunner) -> None:
        """The tree names the version, the gaps and the facts with their indices."""
        result = asked.invoke(app, ["trace", "production/payments", "--at", "2026-11-09T00:12:00Z"])
        assert result.exit_code == 0, result.output
        out = result.stdout
        assert out.startswith("production/payments: 1.6.0")
        for text in ("tests_failed", "critical_vulnerabilities", "self_approval", "CVE-2026-4242"):
            assert text in out
        assert "acme/payments#4 by bob" in out

    def test_trace_json_with_proofs(self, asked: CliRunner) -> None:
        """--prove adds one inclusion proof per fact index against a fresh checkpoint."""
        doc = _json(asked, "trace", "production/web", "--prove")
        assert [g["code"] for g in doc["gaps"]] == ["no_tests", "no_approval"]
        proven = {p["index"] for p in doc["proofs"]}
        assert doc["deployment"]["index"] in proven
        assert all(p["tree_size"] == doc["checkpoint"]["tree_size"] for p in doc["proofs"])

    def test_diff_suspects_search_timeline(self, asked: CliRunner) -> None:
        """Each question answers with the values of the demo history."""
        diff = _json(asked, "diff", "production/payments", "1.4.0", "payments/production/4")
        assert diff["authors"] == ["alice", "bob"]
        sus = _json(
            asked,
            "suspects",
            "--env",
            "production",
            "--at",
            "2026-11-09T00:12:00Z",
            "--window",
            "2d",
        )
        assert [s["deployment"]["version"] for s in sus["suspects"]] == ["1.6.0"]
        found = _json(asked, "search", "CVE-2026-4242")["results"]
        assert len(found) == 1
        night = _json(asked, "timeline", "--since", "2026-11-09T00:00:00Z", "--env", "production")
        assert len(night["events"]) == 4

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["trace", "production/paymnts"], "did you mean payments?"),
            (["trace", "prod/payments"], "did you mean production?"),
            (
                ["trace", "production/payments", "--at", "yesterday"],
                "--at: 'yesterday' is not a time",
            ),
            (["diff", "production/payments", "1.4.0", "7.0"], "no deployment '7.0' of payments"),
            (
                [
                    "suspects",
                    "--env",
                    "production",
                    "--at",
                    "2026-11-09T00:12:00Z",
                    "--window",
                    "6x",
                ],
                "--window: '6x' is not a duration",
            ),
            (["suspects", "--env", "qa", "--at", "2026-11-09T00:12:00Z"], "no environment 'qa'"),
        ],
    )
    def test_bad_input_is_one_line_and_exit_2(
        self, asked: CliRunner, args: list[str], message: str
    ) -> None:
        """Unknown names, times and deployments: one line saying what exists, exit 2."""
        result = asked.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 or message in result.stderr

    def test_rebuild(self, asked: CliRunner) -> None:
        """rebuild reads every entry and the answers stay the same."""
        before = _json(asked, "trace", "production/payments")
        result = asked.invoke(app, ["rebuild"])
        assert result.exit_code == 0, result.output
        assert "rebuilt lineage from 81 entries" in result.stdout
        assert _json(asked, "trace", "production/payments") == before


class TestDemo:
    def test_demo_records_once_and_answers(self, cli: CliRunner) -> None:
        """demo records the whole history once (a rerun adds nothing) and trace answers from it."""
        args = ["demo", "--start", "2026-11-02T09:00:00Z"]
        first = cli.invoke(app, args)
        assert first.exit_code == 0, first.output
        assert "recorded 81 demo events" in first.stdout
        assert "--at 2026-11-09T00:12:00Z" in first.stdout
        again = cli.invoke(app, args)
        assert "recorded 0 demo events" in again.stdout
        skipped = cli.invoke(app, [*args, "--if-empty"])
        assert skipped.exit_code == 0, skipped.output
        assert "skipped the demo: the ledger already holds events" in skipped.stdout
        doc = _json(cli, "trace", "production/payments", "--at", "2026-11-09T00:12:00Z")
        assert doc["deployment"]["version"] == "1.6.0"
