"""What the CLI must never do: fall back to a local store, write on a read, or let text steer the terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flightlog.cli.app import app
from flightlog.cli.context import plain
from flightlog.config import Settings
from flightlog.service import Flightlog
from tests.factories import service_deployed
from tests.lineage.conftest import record_history


def write(tmp_path: Path, name: str, data: bytes) -> str:
    """Write a fixture file and return its path."""
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


class TestLocalOnlyCommandsRefuseServer:
    """``erase`` and ``token …`` never act on a local store when ``--server`` is given."""

    @pytest.mark.parametrize(
        "args",
        [
            ["erase", "1", "--reason", "r"],
            ["token", "create", "--name", "ci", "--scope", "read"],
            ["token", "list"],
            ["token", "revoke", "ci"],
            ["migrate"],
            ["demo", "--remove", "--yes"],
        ],
    )
    def test_refuses_with_one_line_and_creates_nothing(
        self, args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """One error line, exit 1, and no ./flightlog.db or key appears."""
        monkeypatch.chdir(tmp_path)
        runner = CliRunner(env={"FLIGHTLOG_DATABASE_URL": "", "FLIGHTLOG_HOME": ""})
        result = runner.invoke(app, ["--server", "http://127.0.0.1:9", *args])
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1
        assert "cannot go through --server" in lines[0]
        assert sorted(p.name for p in tmp_path.iterdir()) == []


class TestReadsHaveNoSideEffects:
    """Opening a store to read neither creates nor migrates it, nor mints a key."""

    @pytest.mark.parametrize("args", [["log"], ["show", "0"], ["verify"], ["key", "show"]])
    def test_read_of_a_missing_store_names_the_command_to_run(
        self, cli: CliRunner, tmp_path: Path, args: list[str]
    ) -> None:
        """A read of a store that was never created fails naming `flightlog migrate`."""
        result = cli.invoke(app, args)
        assert result.exit_code == 1
        assert "flightlog migrate" in result.output
        assert not (tmp_path / "flightlog.db").exists()
        assert not (tmp_path / "home").exists()

    def test_reads_after_migrate_create_no_key(self, cli: CliRunner, tmp_path: Path) -> None:
        """`log` and `show` work on a migrated store whose key is elsewhere; no key is made."""
        assert cli.invoke(app, ["migrate"]).exit_code == 0
        key = tmp_path / "home" / "signing.key"
        key.unlink()
        assert json.loads(cli.invoke(app, ["log", "--json"]).output) == {
            "events": [],
            "next_cursor": None,
        }
        assert not key.exists()
        result = cli.invoke(app, ["key", "show"])
        assert result.exit_code == 1
        assert f"no signing key at {key}" in result.output


class TestValidateLimits:
    """`validate` refuses what `record` refuses."""

    def test_an_event_over_the_size_limit_is_invalid(self, cli: CliRunner, tmp_path: Path) -> None:
        """An event over 1 MiB fails `validate` as it fails `record`."""
        event = service_deployed(0)
        event["customData"] = {"blob": "x" * (1024 * 1024)}
        path = write(tmp_path, "big.json", json.dumps(event).encode())
        validated = cli.invoke(app, ["validate", path])
        assert validated.exit_code == 1
        assert "over the limit of 1,048,576 bytes per event" in validated.output
        recorded = cli.invoke(app, ["record", "event", path])
        assert recorded.exit_code == 1
        assert "over the limit of 1,048,576 bytes per event" in recorded.output


HOSTILE = "[/bold]\x1b]0;owned\x07\x1b[31m\u202e"


class TestPlainText:
    """Values are printed as text: no markup, control characters escaped."""

    def test_plain_escapes_controls(self) -> None:
        """ESC, BEL, DEL, C1 and bidi overrides become visible escapes."""
        assert plain("a\x1b[31m\x07\x7f\x9b\u202eb") == "a\\x1b[31m\\x07\\x7f\\x9b\\u202eb"
        assert plain("[/bold]") == "[/bold]"

    def test_hostile_event_text_is_shown_not_obeyed(self, cli: CliRunner, tmp_path: Path) -> None:
        """`record`, `validate`, `log` and `show` print hostile ids and subjects escaped."""
        event = service_deployed(0)
        event["subject"]["id"] = HOSTILE  # type: ignore[index]
        event["context"]["id"] = HOSTILE  # type: ignore[index]
        path = write(tmp_path, "evil.json", json.dumps(event).encode())
        for args in (["validate", path], ["record", "event", path], ["log"], ["show", "0"]):
            result = cli.invoke(app, args)
            assert result.exit_code == 0, (args, result.output)
            assert "\x1b" not in result.output
            assert "\x07" not in result.output
            assert "\u202e" not in result.output
        assert "\\x1b]0;owned\\x07" in cli.invoke(app, ["show", "0"]).output

    def test_markup_in_a_token_name_prints_the_secret(self, cli: CliRunner) -> None:
        """`token create --name '[/x]'` prints its secret, and `token list` shows the name."""
        created = cli.invoke(app, ["token", "create", "--name", "[/x]", "--scope", "read"])
        assert created.exit_code == 0, created.output
        assert created.output.startswith("fl_")
        assert "Token '[/x]' (read)" in created.output
        listed = cli.invoke(app, ["token", "list"])
        assert listed.exit_code == 0, listed.output
        assert "[/x]" in listed.output


class TestStartup:
    """The CLI module loads no web framework and no database driver."""

    def test_importing_the_cli_pulls_in_no_server_or_database(self) -> None:
        """`import flightlog.cli.app` leaves fastapi, uvicorn and sqlalchemy unloaded."""
        probe = (
            "import sys, flightlog.cli.app; "
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'sqlalchemy', 'starlette') "
            "if m in sys.modules))"
        )
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout
        assert out.strip() == "[]"

    @pytest.mark.parametrize(
        "args",
        [
            ["trace", "production/payments"],
            ["diff", "production/payments", "1.4.0", "1.6.0"],
            ["suspects", "--env", "production", "--at", "2026-11-09T00:12:00Z"],
            ["search", "CVE-2026-4242"],
            ["timeline"],
            ["log", "--limit", "1"],
        ],
    )
    def test_questions_to_a_local_store_load_no_migration_or_validators(
        self, sqlite_settings: Settings, args: list[str]
    ) -> None:
        """A question loads no Alembic, Mako, jsonschema, nor pydantic for Typer's coercion."""
        with Flightlog.open(sqlite_settings) as fl:
            record_history(fl)
        probe = (
            "import sys\n"
            "from flightlog.cli.app import app\n"
            "try:\n"
            f"    app({args!r})\n"
            "except SystemExit as exc:\n"
            "    assert not exc.code, exc.code\n"
            "print(sorted(m for m in ('alembic', 'mako', 'jsonschema', 'pydantic') "
            "if m in sys.modules), "
            "file=sys.stderr)"
        )
        env = {
            **os.environ,
            "FLIGHTLOG_DATABASE_URL": sqlite_settings.database_url,
            "FLIGHTLOG_HOME": str(sqlite_settings.home),
            "FLIGHTLOG_ORIGIN": sqlite_settings.origin,
            "FLIGHTLOG_SERVER": "",
        }
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip()
        assert done.stderr.strip().splitlines()[-1] == "[]"

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["log", "--limit", "0"], "Input should be greater than or equal to 1"),
            (["log", "--limit", "10001"], "Input should be less than or equal to 10000"),
            (["log", "--limit", "ten"], "Input should be a valid integer"),
            (["log", "--limit", "-1"], "Input should be greater than or equal to 1"),
        ],
    )
    def test_numbers_outside_the_plain_path_keep_typers_messages(
        self, cli: CliRunner, args: list[str], message: str
    ) -> None:
        """A number that is not plain digits in range still gets Typer's own error, exit 2."""
        result = cli.invoke(app, args)
        assert result.exit_code == 2
        assert f"Invalid value for '--limit': {message}" in result.output

    def test_plain_values_come_through_as_typer_gives_them(self, cli: CliRunner) -> None:
        """Digits in range become that int, text stays text, flags stay bools."""
        for n in range(3):
            event = json.dumps(service_deployed(n, service="svc"))
            assert cli.invoke(app, ["record", "event", "-"], input=event).exit_code == 0
        doc = json.loads(
            cli.invoke(app, ["log", "--service", "svc", "--limit", "2", "--json"]).stdout
        )
        assert [e["index"] for e in doc["events"]] == [0, 1]
        assert doc["next_cursor"] == "1"
