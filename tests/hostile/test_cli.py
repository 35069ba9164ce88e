"""Hostile input and faults at the command line: one line naming the problem, never a traceback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flightlog.cli.app import app
from flightlog.events.envelope import ERASURE_TYPE
from tests.factories import jsonl, service_deployed


def _cli(url: str, home: Path, **extra: str) -> CliRunner:
    return CliRunner(
        env={
            "FLIGHTLOG_DATABASE_URL": url,
            "FLIGHTLOG_HOME": str(home),
            "FLIGHTLOG_ORIGIN": "hostile.example/log",
            "FLIGHTLOG_SERVER": "",
            "FLIGHTLOG_ACTOR": "carol",
            **extra,
        }
    )


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> CliRunner:
    """A runner pointed at a fresh store on each backend."""
    return _cli(database_url, tmp_path / "home")


def run(cli: CliRunner, *args: str, code: int = 0) -> str:
    """Run a command, check its exit status, return its output."""
    result = cli.invoke(app, list(args))
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.output


def one_line_error(cli: CliRunner, *args: str) -> str:
    """Run a command that must fail with exit 1 and one line on stderr; return the line."""
    result = cli.invoke(app, list(args))
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0]


def _record(cli: CliRunner, tmp_path: Path, events: list[dict[str, object]]) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(jsonl(events))
    run(cli, "record", "event", str(path))


class TestVerifyWhatIsNotThere:
    """verify refuses missing, empty, truncated and foreign files and creates nothing."""

    def test_missing_path(self, tmp_path: Path) -> None:
        """A path that does not exist is an error; no directory, ledger or key appears."""
        target = tmp_path / "nowhere" / "ledger.db"
        cli = _cli(f"sqlite:///{target}", tmp_path / "home")
        line = one_line_error(cli, "verify")
        assert line == (
            f"error: no ledger at {target}; record an event or run `flightlog migrate` "
            "to create one"
        )
        assert not (tmp_path / "nowhere").exists()
        assert not (tmp_path / "home").exists()

    def test_empty_file(self, tmp_path: Path) -> None:
        """A 0-byte file is not a ledger and stays 0 bytes."""
        target = tmp_path / "empty.db"
        target.write_bytes(b"")
        line = one_line_error(_cli(f"sqlite:///{target}", tmp_path / "home"), "verify")
        assert line.endswith("the file is empty")
        assert target.stat().st_size == 0

    def test_not_a_database(self, tmp_path: Path) -> None:
        """A text file is refused in one line naming the database problem."""
        target = tmp_path / "notes.db"
        target.write_text("hello, this is not SQLite\n" * 100)
        line = one_line_error(_cli(f"sqlite:///{target}", tmp_path / "home"), "verify")
        assert "cannot open the database" in line

    def test_truncated_database(self, tmp_path: Path) -> None:
        """A ledger cut short is one line and exit 1, not a DatabaseError traceback."""
        target = tmp_path / "ledger.db"
        cli = _cli(f"sqlite:///{target}", tmp_path / "home")
        _record(cli, tmp_path, [service_deployed(i) for i in range(300)])
        run(cli, "checkpoint")
        with sqlite3.connect(target) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 2])
        result = cli.invoke(app, ["verify"])
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in result.output

    @pytest.mark.parametrize(
        ("url", "hint"),
        [("::::not a url", "sqlite:///flightlog.db"), ("flightlog.db", "sqlite:///flightlog.db")],
    )
    def test_bad_database_url(self, tmp_path: Path, url: str, hint: str) -> None:
        """A URL that does not parse gets one line suggesting the SQLite form."""
        line = one_line_error(_cli(url, tmp_path / "home"), "log")
        assert f"use {hint}" in line


class TestNumbersAndTimes:
    """Out-of-range numbers and times."""

    def test_huge_indices(self, cli: CliRunner, tmp_path: Path) -> None:
        """23-digit indices: erase and show say there is no such entry; log --after is empty."""
        _record(cli, tmp_path, [service_deployed(0)])
        huge = "1" + "0" * 22
        assert one_line_error(cli, "erase", huge, "--reason", "x") == (
            f"error: no entry at index {huge}"
        )
        assert one_line_error(cli, "show", huge) == f"error: no entry at index {huge}"
        assert json.loads(run(cli, "log", "--after", huge, "--json"))["events"] == []

    def test_times_outside_the_calendar_in_utc(self, cli: CliRunner, tmp_path: Path) -> None:
        """--since past year 9999 in UTC matches nothing; --until before year 1 likewise."""
        _record(cli, tmp_path, [service_deployed(0)])
        out = run(cli, "log", "--since", "9999-12-31T23:59:59-23:59", "--json")
        assert json.loads(out)["events"] == []
        out = run(cli, "log", "--until", "0001-01-01T00:00:00+14:00", "--json")
        assert json.loads(out)["events"] == []

    def test_like_wildcards_are_literal(self, cli: CliRunner, tmp_path: Path) -> None:
        """log --type % lists nothing; --type service_deployed lists nothing."""
        _record(cli, tmp_path, [service_deployed(0)])
        assert json.loads(run(cli, "log", "--type", "%", "--json"))["events"] == []
        assert json.loads(run(cli, "log", "--type", "service_deployed", "--json"))["events"] == []
        assert (
            len(json.loads(run(cli, "log", "--type", "service.deployed", "--json"))["events"]) == 1
        )


class TestErasure:
    """Only the erase path writes erasures, and it removes what it derived."""

    def test_record_refuses_an_erasure_event(self, cli: CliRunner, tmp_path: Path) -> None:
        """`record event` with the erasure type fails naming $.context.type; nothing stored."""
        event = service_deployed(0)
        event["context"]["type"] = ERASURE_TYPE
        event["subject"]["content"] = {
            "index": 0,
            "payloadSha256": "0" * 64,
            "reason": "forged",
            "erasedBy": "mallory",
        }
        path = tmp_path / "forged.json"
        path.write_text(json.dumps(event))
        line = one_line_error(cli, "record", "event", str(path))
        assert "$.context.type: erasure records are written only by flightlog erase" in line
        assert json.loads(run(cli, "log", "--json"))["events"] == []

    def test_erase_removes_derived_refs(self, cli: CliRunner, tmp_path: Path) -> None:
        """After erase, the entry's ticket and actor refs no longer answer queries."""
        event = service_deployed(0)
        event["customData"] = {"flightlog": {"ticket": "PAY-77", "actor": "dave"}}
        _record(cli, tmp_path, [event])
        assert len(json.loads(run(cli, "log", "--ticket", "PAY-77", "--json"))["events"]) == 1
        run(cli, "erase", "0", "--reason", "pasted a secret")
        assert json.loads(run(cli, "log", "--ticket", "PAY-77", "--json"))["events"] == []
        assert json.loads(run(cli, "log", "--actor", "dave", "--json"))["events"] == []
        assert json.loads(run(cli, "show", "0", "--json"))["refs"] == []
        assert "ok" in run(cli, "verify")

    def test_erase_needs_a_known_actor(self, database_url: str, tmp_path: Path) -> None:
        """Without --actor, FLIGHTLOG_ACTOR or USER, erase refuses instead of 'unknown'."""
        cli = _cli(database_url, tmp_path / "home", FLIGHTLOG_ACTOR="", USER="")
        _record(cli, tmp_path, [service_deployed(0)])
        line = one_line_error(cli, "erase", "0", "--reason", "x")
        assert "needs the name of who erases" in line
        assert json.loads(run(cli, "show", "0", "--json"))["erased"] is False


class TestSigningKey:
    """A ledger keeps the key of its first checkpoint."""

    def test_other_home_refuses_to_mint_a_key(self, database_url: str, tmp_path: Path) -> None:
        """With a wrong FLIGHTLOG_HOME nothing is signed and no key file is created."""
        cli = _cli(database_url, tmp_path / "home")
        _record(cli, tmp_path, [service_deployed(0)])
        run(cli, "checkpoint")
        wrong = _cli(database_url, tmp_path / "other")
        line = one_line_error(wrong, "checkpoint")
        assert "this ledger is signed with key hostile.example/log+" in line
        assert f"there is no key file at {tmp_path / 'other' / 'signing.key'}" in line
        assert not (tmp_path / "other" / "signing.key").exists()

    def test_other_key_refuses_to_sign(self, database_url: str, tmp_path: Path) -> None:
        """A process whose key differs names both keys and where it looked; verify still passes."""
        cli = _cli(database_url, tmp_path / "home")
        _record(cli, tmp_path, [service_deployed(0)])
        run(cli, "checkpoint")
        other_home = tmp_path / "other"
        run(_cli(f"sqlite:///{tmp_path / 'scratch.db'}", other_home), "checkpoint")
        _record(cli, tmp_path, [service_deployed(1)])
        wrong = _cli(database_url, other_home)
        line = one_line_error(wrong, "checkpoint")
        ledger_key = "+".join(run(cli, "key", "show").strip().split("+")[:2])
        other_key = "+".join(run(wrong, "key", "show").strip().split("+")[:2])
        assert ledger_key != other_key
        assert f"signed with key {ledger_key}" in line
        assert f"the key in {other_home / 'signing.key'} is {other_key}" in line
        assert "ok" in run(cli, "verify")


class TestShowTampered:
    """show says when the stored payload or leaf does not match."""

    def test_show_flags_a_forged_payload(self, sqlite_url: str, tmp_path: Path) -> None:
        """A payload rewritten in the database is shown with a payload_altered warning."""
        cli = _cli(sqlite_url, tmp_path / "home")
        _record(cli, tmp_path, [service_deployed(0)])
        forged = service_deployed(0)
        forged["subject"]["id"] = "forged"
        with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as conn:
            conn.execute(
                "UPDATE entries SET payload = ? WHERE idx = 0", (json.dumps(forged).encode(),)
            )
        doc = json.loads(run(cli, "show", "0", "--json"))
        assert doc["problems"] == ["payload_altered: the stored payload does not match its digest"]
        result = cli.invoke(app, ["show", "0"])
        assert "warning: payload_altered" in result.output


def test_revoking_a_name_with_nul_says_no_such_token(cli: CliRunner) -> None:
    """token revoke with a NUL in the name is one line on both stores, not a driver error."""
    run(cli, "token", "create", "--name", "ci", "--scope", "read")
    assert one_line_error(cli, "token", "revoke", "c\x00i") == "error: no token named 'c\\x00i'"
