"""flightlog trace, diff, suspects, search, timeline and rebuild on a local store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flightlog.cli.app import app
from flightlog.config import Settings
from flightlog.service import DEMO_ERASURE_REASON, Flightlog
from tests.cli.conftest import runner_for
from tests.factories import service_deployed
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
            (
                [
                    "suspects",
                    "--env",
                    "production",
                    "--service",
                    "pay",
                    "--at",
                    "2026-11-09T00:12:00Z",
                ],
                "no service 'pay' has deployments; did you mean payments?",
            ),
            (["diff", "payments", "1.4.0", "1.5.0"], "'payments' is not ENV/SERVICE"),
            (
                ["trace", "production/payments", "--deployment", "payments/production/9"],
                "no deployment 'payments/production/9' of payments in production",
            ),
            (
                ["trace", "production/payments", "--artifact", "pkg:oci/nope"],
                "no successful deployment of pkg:oci/nope of payments in production; "
                "known: pkg:oci/payments@sha256:",
            ),
            (
                ["trace", "production/payments", "--at", "2020-01-01T00:00:00Z"],
                "no successful deployment of payments in production at "
                "2020-01-01T00:00:00.000000Z; the first was at 2026-11-03T",
            ),
            (
                ["timeline", "--service", "paymnts"],
                "no event names the service 'paymnts'; did you mean payments?",
            ),
            (["timeline", "--env", "prod"], "no event names the environment 'prod'; did you mean"),
            (["timeline", "--system", "bill"], "no event names the system 'bill'; did you mean"),
            (
                ["timeline", "--since", "2026-11-09T00:00:00Z", "--until", "2026-11-01T00:00:00Z"],
                "--since 2026-11-09T00:00:00Z is after --until 2026-11-01T00:00:00Z",
            ),
        ],
    )
    def test_bad_input_is_one_line_and_exit_2(
        self, asked: CliRunner, args: list[str], message: str
    ) -> None:
        """Unknown names, times and deployments: one line saying what exists, exit 2."""
        result = asked.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert result.stdout == ""

    def test_a_known_name_with_nothing_in_range_is_an_empty_answer(self, asked: CliRunner) -> None:
        """A timeline of a known service in a quiet range lists no event and exits 0."""
        doc = _json(asked, "timeline", "--service", "payments", "--since", "2030-01-01T00:00:00Z")
        assert doc["events"] == []

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


def _entries(cli: CliRunner) -> list[dict]:  # type: ignore[type-arg]
    result = cli.invoke(app, ["log", "--json", "--limit", "1000"])
    assert result.exit_code == 0, result.output
    events: list[dict] = json.loads(result.stdout)["events"]  # type: ignore[type-arg]
    return events


class TestDemoRemove:
    def test_an_all_demo_store_is_deleted_after_a_yes(self, tmp_path: Path) -> None:
        """Every entry is demo data: a "no" keeps the store, a "yes" deletes it and its -wal/-shm."""
        db = tmp_path / "flightlog.db"
        cli = runner_for(f"sqlite:///{db}", tmp_path)
        recorded = cli.invoke(app, ["demo"])
        assert "remove the demo with `flightlog demo --remove`" in recorded.stdout
        kept = cli.invoke(app, ["demo", "--remove"], input="n\n")
        assert kept.exit_code == 1
        assert f"every one of the 81 entries is demo data: delete the store {db}" in kept.output
        assert db.exists()
        assert len(_entries(cli)) == 81
        removed = cli.invoke(app, ["demo", "--remove"], input="y\n")
        assert removed.exit_code == 0, removed.output
        assert f"deleted the store {db} (81 demo entries" in removed.stdout
        assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]
        assert (tmp_path / "home" / "signing.key").exists()

    def test_yes_skips_the_question(self, tmp_path: Path) -> None:
        """--yes deletes an all-demo store without asking; a later read finds no ledger."""
        cli = runner_for(f"sqlite:///{tmp_path / 'flightlog.db'}", tmp_path)
        assert cli.invoke(app, ["demo"]).exit_code == 0
        removed = cli.invoke(app, ["demo", "--remove", "--yes"])
        assert removed.exit_code == 0, removed.output
        assert "?" not in removed.output
        after = cli.invoke(app, ["trace", "production/payments"])
        assert after.exit_code == 1
        assert "no ledger at" in after.output

    def test_an_all_demo_postgres_store_is_refused_naming_the_database(
        self, postgres_url: str, tmp_path: Path
    ) -> None:
        """On PostgreSQL nothing is dropped: one line says to drop the database; data stays."""
        cli = runner_for(postgres_url, tmp_path)
        assert cli.invoke(app, ["demo"]).exit_code == 0
        refused = cli.invoke(app, ["demo", "--remove", "--yes"])
        assert refused.exit_code == 1
        assert "drop the database 'test' to remove it (nothing was changed)" in refused.output
        assert len(_entries(cli)) == 81

    def test_demo_beside_real_events_is_erased_with_an_audit_record_each(
        self, cli: CliRunner, tmp_path: Path
    ) -> None:
        """The demo payloads are erased by recorded erasures; real events, leaves, proofs stay."""
        assert cli.invoke(app, ["demo"]).exit_code == 0
        real = tmp_path / "real.json"
        real.write_text(json.dumps(service_deployed(0, service="ledger-api", env="live")))
        assert cli.invoke(app, ["record", "event", str(real)]).exit_code == 0
        removed = cli.invoke(app, ["demo", "--remove", "--actor", "dana"], input="")
        assert removed.exit_code == 0, removed.output
        assert "erased the payloads of 81 demo entries" in removed.stdout
        assert "(indices 82…162, by dana); 1 other entries are untouched" in removed.stdout
        events = _entries(cli)
        assert len(events) == 163
        assert [e["index"] for e in events if e["event"] is None] == list(range(81))
        assert events[81]["event"]["subject"]["id"] == "ledger-api"
        erasures = [e["event"]["subject"]["content"] for e in events[82:]]
        assert [c["index"] for c in erasures] == list(range(81))
        assert {(c["reason"], c["erasedBy"]) for c in erasures} == {(DEMO_ERASURE_REASON, "dana")}
        # No question sees the demo any more; the real event answers.
        assert _json(cli, "search", "CVE-2026-4242")["results"] == []
        gone = cli.invoke(app, ["trace", "production/payments"])
        assert gone.exit_code == 2
        assert "no environment 'production' has deployments; known: live" in gone.stderr
        assert _json(cli, "trace", "live/ledger-api")["deployment"]["index"] == 81
        verified = cli.invoke(app, ["verify"])
        assert verified.exit_code == 0, verified.output
        assert "81 erased" in verified.stdout
        again = cli.invoke(app, ["demo", "--remove"])
        assert again.exit_code == 0
        assert "no demo data in the ledger (163 entries); nothing to remove" in again.stdout

    def test_an_altered_demo_payload_is_not_demo_data(self, tmp_path: Path) -> None:
        """A demo payload that no longer matches its digest is not removable: no deletion."""
        db = tmp_path / "flightlog.db"
        cli = runner_for(f"sqlite:///{db}", tmp_path)
        assert cli.invoke(app, ["demo"]).exit_code == 0
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE entries SET payload = CAST(payload || ' ' AS BLOB) WHERE idx = 5")
        conn.close()
        removed = cli.invoke(app, ["demo", "--remove", "--yes", "--actor", "dana"])
        assert removed.exit_code == 0, removed.output
        assert "erased the payloads of 80 demo entries" in removed.stdout
        assert "1 other entries are untouched" in removed.stdout
        assert db.exists()
        assert _entries(cli)[5]["event"] is not None

    def test_an_empty_store_has_nothing_to_remove(self, cli: CliRunner) -> None:
        """A migrated store with no entry is left as it is."""
        assert cli.invoke(app, ["migrate"]).exit_code == 0
        result = cli.invoke(app, ["demo", "--remove", "--yes"])
        assert result.exit_code == 0, result.output
        assert "no demo data in the ledger (0 entries); nothing to remove" in result.stdout

    @pytest.mark.parametrize(
        "args",
        [
            ["demo", "--remove", "--start", "2026-11-02T09:00:00Z"],
            ["demo", "--remove", "--if-empty"],
            ["demo", "--yes"],
        ],
    )
    def test_options_that_do_not_go_together(self, cli: CliRunner, args: list[str]) -> None:
        """--remove with --start or --if-empty, or --yes without --remove: exit 2, nothing done."""
        result = cli.invoke(app, args)
        assert result.exit_code == 2
        assert len(result.stderr.strip().splitlines()) == 1
        assert cli.invoke(app, ["log"]).exit_code == 1
