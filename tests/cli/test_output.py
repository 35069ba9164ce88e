"""What the CLI prints: paging through `log`, uncut piped output, help pages, --json."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import typer.main
from typer.testing import CliRunner

from flightlog.cli.app import app
from flightlog.ledger import audit
from flightlog.ledger.checkpoint import open_checkpoint
from flightlog.ledger.note import Verifier
from tests.factories import jsonl, service_deployed

ROOT = Path(__file__).resolve().parents[2]


def runner(database_url: str, tmp_path: Path, origin: str = "out.example/log") -> CliRunner:
    """A runner whose environment points every command at a fresh store."""
    return CliRunner(
        env={
            "FLIGHTLOG_DATABASE_URL": database_url,
            "FLIGHTLOG_HOME": str(tmp_path / "home"),
            "FLIGHTLOG_ORIGIN": origin,
            "FLIGHTLOG_SERVER": "",
        }
    )


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> CliRunner:
    """A runner on a fresh store (SQLite file and PostgreSQL schema)."""
    return runner(database_url, tmp_path)


def run(cli: CliRunner, *args: str, code: int = 0) -> tuple[str, str]:
    """Run a command, check its exit status, return (stdout, stderr)."""
    result = cli.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.stdout, result.stderr


def record(cli: CliRunner, tmp_path: Path, events: list[dict[str, Any]]) -> None:
    """Record ``events`` through the CLI."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(jsonl(events))
    run(cli, "record", "event", str(path))


def indices(out: str) -> list[int]:
    """The ledger indices of a `log --json` answer."""
    return [d["index"] for d in json.loads(out)["events"]]


class TestLogPaging:
    """`log --reverse`, `--last N`, the next-page hint and the JSON cursor."""

    def test_reverse_lists_newest_first(self, cli: CliRunner, tmp_path: Path) -> None:
        """--reverse gives the newest entries first."""
        record(cli, tmp_path, [service_deployed(i) for i in range(5)])
        out, _ = run(cli, "log", "--reverse", "--json")
        assert indices(out) == [4, 3, 2, 1, 0]

    def test_last_shows_the_newest_oldest_first(self, cli: CliRunner, tmp_path: Path) -> None:
        """--last 2 gives the two newest entries in ledger order, and the cursor to go back."""
        record(cli, tmp_path, [service_deployed(i) for i in range(5)])
        out, err = run(cli, "log", "--last", "2", "--json")
        assert indices(out) == [3, 4]
        assert json.loads(out)["next_cursor"] == "3"
        assert "add --before 3 for the next page" in err
        out, err = run(cli, "log", "--last", "2", "--before", "3", "--json")
        assert indices(out) == [1, 2]
        out, err = run(cli, "log", "--last", "2", "--before", "1", "--json")
        assert indices(out) == [0]
        assert json.loads(out)["next_cursor"] is None
        assert err == ""

    def test_forward_paging_follows_the_cursor(self, cli: CliRunner, tmp_path: Path) -> None:
        """--limit 2 says more is available; --after the cursor gives the next page."""
        record(cli, tmp_path, [service_deployed(i) for i in range(5)])
        out, err = run(cli, "log", "--limit", "2", "--json")
        page = json.loads(out)
        assert (indices(out), page["next_cursor"]) == ([0, 1], "1")
        assert "add --after 1 for the next page" in err
        out, _ = run(cli, "log", "--limit", "2", "--after", page["next_cursor"], "--json")
        assert indices(out) == [2, 3]

    def test_text_output_hints_at_the_next_page(self, cli: CliRunner, tmp_path: Path) -> None:
        """Without --json the hint is on stderr and stdout holds only entries."""
        record(cli, tmp_path, [service_deployed(i) for i in range(3)])
        out, err = run(cli, "log", "--reverse", "--limit", "1")
        assert out.split("\t")[0] == "2"
        assert err.strip() == "more entries match: add --before 2 for the next page"

    def test_after_with_reverse_is_refused(self, cli: CliRunner) -> None:
        """--after with --reverse fails in one line naming --before."""
        _, err = run(cli, "log", "--reverse", "--after", "3", code=2)
        assert "--before" in err and len(err.strip().splitlines()) == 1


class TestPipedOutput:
    """Output that is not a terminal: full values, one record a line."""

    def test_log_lines_are_whole_and_tab_separated(self, cli: CliRunner, tmp_path: Path) -> None:
        """Each entry is one line with every ref and a 300-character value uncut."""
        long_service = "svc-" + "x" * 300
        events = [service_deployed(0, service=long_service), service_deployed(1)]
        events[1]["customData"] = {
            "flightlog": {"commit": ["c1", "c2", "c3"], "ticket": ["PAY-1", "PAY-2"]}
        }
        record(cli, tmp_path, events)
        out, _ = run(cli, "log")
        lines = out.splitlines()
        assert len(lines) == 2
        assert "…" not in out
        first = lines[0].split("\t")
        assert first[:4] == [
            "0",
            "2026-11-01T12:00:00Z",
            events[0]["context"]["type"],
            long_service,
        ]
        refs = lines[1].split("\t")[4].split(", ")
        assert {"commit=c1", "commit=c2", "commit=c3", "ticket=PAY-1", "ticket=PAY-2"} <= set(refs)
        assert len(refs) > 4

    def test_grep_finds_one_entry_per_line(self, cli: CliRunner, tmp_path: Path) -> None:
        """`flightlog log | grep staging` gives exactly the staging entry's line."""
        record(cli, tmp_path, [service_deployed(0), service_deployed(1, env="staging")])
        out, _ = run(cli, "log")
        matching = [line for line in out.splitlines() if "staging" in line]
        assert [line.split("\t")[0] for line in matching] == ["1"]

    def test_show_prints_field_lines_and_the_event(self, cli: CliRunner, tmp_path: Path) -> None:
        """`show` piped prints field<TAB>value lines, then the event as JSON."""
        record(cli, tmp_path, [service_deployed(0)])
        out, _ = run(cli, "show", "0")
        lines = out.splitlines()
        assert lines[0] == "id\tevt-0"
        assert "payload\tpresent" in lines
        start = next(i for i, line in enumerate(lines) if line.startswith("{"))
        assert json.loads("\n".join(lines[start:])) == service_deployed(0)


def _commands(command: click.Command, path: tuple[str, ...] = ()) -> list[Any]:
    """Every (path, command) of the CLI tree."""
    out = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        out.extend(_commands(sub, (*path, name)))
    return out


class TestHelpPages:
    """Help pages a newcomer reads."""

    def test_no_python_type_noise(self) -> None:
        """No help page shows <bool>, <str>, <int> or <list[…]> labels."""
        cli = CliRunner()
        for path, _ in _commands(typer.main.get_command(app)):
            result = cli.invoke(app, [*path, "--help"], terminal_width=120)
            assert result.exit_code == 0, path
            assert not re.search(r"<(bool|str|int|float|list\[|Path)", result.output), path

    def test_every_option_has_a_sentence(self) -> None:
        """Every option and argument of every command has help text."""
        missing = [
            f"{' '.join(path)} {param.name}"
            for path, command in _commands(typer.main.get_command(app))
            for param in command.params
            if not getattr(param, "help", None)
        ]
        assert missing == []


class TestJsonEverywhere:
    """`validate` and `key show` take --json like every other command."""

    def test_validate_json(self, cli: CliRunner, tmp_path: Path) -> None:
        """validate --json reports each file: ok, event count, error."""
        good = tmp_path / "good.jsonl"
        good.write_bytes(jsonl([service_deployed(0), service_deployed(1)]))
        bad = tmp_path / "bad.json"
        bad.write_text('{"context": {}}')
        out, _ = run(cli, "validate", str(good), str(bad), "--json", code=1)
        reports = json.loads(out)
        assert [(r["file"], r["ok"], r["events"]) for r in reports] == [
            (str(good), True, 2),
            (str(bad), False, 0),
        ]
        assert reports[0]["error"] is None
        assert "bad.json" in reports[1]["error"]

    def test_key_show_json(self, cli: CliRunner) -> None:
        """key show --json gives the origin and the verifier key of the text output."""
        run(cli, "migrate")
        text, _ = run(cli, "key", "show")
        out, _ = run(cli, "key", "show", "--json")
        assert json.loads(out) == {"origin": "out.example/log", "verifier_key": text.strip()}


class TestCustomDataWarnings:
    """An unknown key under customData.flightlog is a warning, not silence."""

    def test_validate_and_record_warn_on_stderr(self, cli: CliRunner, tmp_path: Path) -> None:
        """A misspelt 'comit' is named with a suggestion; the event is still recorded."""
        event = service_deployed(0)
        event["customData"] = {"flightlog": {"comit": "abc123"}}
        path = tmp_path / "e.json"
        path.write_text(json.dumps(event))
        out, err = run(cli, "validate", str(path))
        assert "1 valid event" in out
        assert "e.json: $.customData.flightlog: unknown key 'comit' is ignored" in err
        assert "did you mean 'commit'?" in err
        out, err = run(cli, "validate", str(path), "--json")
        assert "unknown key 'comit'" in json.loads(out)[0]["warnings"][0]
        out, err = run(cli, "record", "event", str(path))
        assert out.strip() == "0"
        assert err.startswith(f"warning: {path}: $.customData.flightlog: unknown key 'comit'")


class TestNonAsciiOrigin:
    """A FLIGHTLOG_ORIGIN with non-ASCII characters works end to end."""

    def test_record_checkpoint_verify(self, database_url: str, tmp_path: Path) -> None:
        """Key creation, a checkpoint that verifies under the key, and `verify` all succeed."""
        origin = "journal.exemple/équipe-日本"
        cli = runner(database_url, tmp_path, origin=origin)
        record(cli, tmp_path, [service_deployed(i) for i in range(3)])
        note, _ = run(cli, "checkpoint")
        vkey, _ = run(cli, "key", "show")
        assert vkey.startswith(origin + "+")
        checkpoint = open_checkpoint(note, Verifier.from_verifier_key(vkey.strip()), origin=origin)
        assert checkpoint.tree_size == 3
        out, _ = run(cli, "verify", "--json")
        assert json.loads(out)["ok"] is True


class TestServe:
    """`serve` on a port that is taken."""

    def test_taken_port_is_one_line_suggesting_port(self, tmp_path: Path) -> None:
        """A port in use exits 2 with one line suggesting --port, and prints no URL."""
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            cli = runner(f"sqlite:///{tmp_path / 'f.db'}", tmp_path)
            out, err = run(cli, "serve", "--port", str(port), code=2)
        assert out == ""
        assert err.strip().splitlines() == [
            f"error: port {port} on 127.0.0.1 is already in use; choose another with --port "
            f"(e.g. --port {port + 1})"
        ]
        assert not (tmp_path / "f.db").exists()


class TestVerifyProgress:
    """The verification work is split so that progress shows from the start."""

    def test_first_ranges_are_small(self) -> None:
        """Ranges grow 1, 2, 4 … chunks up to TASK_CHUNKS and cover every chunk once."""
        ranges = audit.task_ranges(200)
        sizes = [end - first for first, end in ranges]
        assert sizes[:6] == [1, 2, 4, 8, 16, 32]
        assert max(sizes) == audit.TASK_CHUNKS
        assert [first for first, _ in ranges[1:]] == [end for _, end in ranges[:-1]]
        assert (ranges[0][0], ranges[-1][1]) == (0, 200)

    def test_progress_starts_at_zero_with_the_total(self, cli: CliRunner, tmp_path: Path) -> None:
        """verify reports (0, size) before checking anything, and (size, size) at the end."""
        from flightlog.config import Settings
        from flightlog.service import Flightlog

        record(cli, tmp_path, [service_deployed(i) for i in range(3)])
        settings = Settings.from_env(dict(cli.env))  # type: ignore[arg-type]
        seen: list[tuple[int, int]] = []
        with Flightlog.open(settings) as fl:
            assert fl.verify(progress=lambda d, t: seen.append((d, t))).ok
        assert (seen[0], seen[-1]) == ((0, 3), (3, 3))


class TestMakeRun:
    """`make run` installs the runtime only and takes PORT=."""

    def test_run_installs_without_dev_tools_on_the_given_port(self, tmp_path: Path) -> None:
        """A dry run of `make run PORT=9123` installs '.' (no [dev]) and serves on 9123."""
        venv = tmp_path / "venv"
        result = subprocess.run(
            [
                "make",
                "--no-print-directory",
                "-n",
                "-B",
                "run",
                "PORT=9123",
                f"VENV={venv}",
                f"PYTHON={sys.executable}",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        lines = result.stdout.splitlines()
        installs = [line for line in lines if "pip install" in line and "-e" in line]
        assert installs == [f"{venv}/bin/pip install --quiet -c constraints.txt -e ."]
        assert lines[-1] == f"{venv}/bin/flightlog serve --port 9123"
