"""The `flightlog` command as a user runs it, against a real SQLite file and PostgreSQL."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from typer.testing import CliRunner

from flightlog.cli.app import app
from flightlog.ledger import merkle
from flightlog.ledger.checkpoint import open_checkpoint
from flightlog.ledger.note import Verifier
from tests.factories import jsonl, service_deployed
from tests.paths import CORPUS


def run(cli: CliRunner, *args: str, input: bytes | None = None, code: int = 0) -> str:
    """Run a command, check its exit status, return its output."""
    result = cli.invoke(app, list(args), input=input)
    assert result.exit_code == code, result.output
    return result.output


def write(tmp_path: Path, name: str, data: bytes) -> str:
    """Write a fixture file and return its path."""
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


class TestRecord:
    def test_record_jsonl_prints_indices(self, cli: CliRunner, tmp_path: Path) -> None:
        """`record event` on JSON Lines prints one ledger index per event."""
        path = write(tmp_path, "e.jsonl", jsonl([service_deployed(i) for i in range(3)]))
        assert run(cli, "record", "event", path).split() == ["0", "1", "2"]

    def test_record_array_and_stdin(self, cli: CliRunner, tmp_path: Path) -> None:
        """A JSON array from a file and one event from stdin are both recorded."""
        path = write(
            tmp_path, "a.json", json.dumps([service_deployed(0), service_deployed(1)]).encode()
        )
        out = json.loads(run(cli, "record", "event", path, "--json"))
        assert [r["index"] for r in out] == [0, 1]
        out = json.loads(
            run(
                cli,
                "record",
                "event",
                "-",
                "--json",
                input=json.dumps(service_deployed(2)).encode(),
            )
        )
        assert out[0]["index"] == 2 and out[0]["duplicate"] is False

    def test_malformed_json_names_file_line_and_writes_nothing(
        self, cli: CliRunner, tmp_path: Path
    ) -> None:
        """Malformed JSON fails with one line naming the file and line, and records nothing."""
        good = json.dumps(service_deployed(0)).encode()
        path = write(tmp_path, "bad.jsonl", good + b"\n" + b'{"context": {\n')
        result = cli.invoke(app, ["record", "event", path])
        assert result.exit_code != 0
        assert "bad.jsonl" in result.output and "line 2" in result.output
        assert json.loads(run(cli, "log", "--json"))["events"] == []

    def test_schema_violation_names_the_json_path(self, cli: CliRunner, tmp_path: Path) -> None:
        """An event breaking its schema is refused naming its array position and JSON path."""
        bad = service_deployed(1)
        bad["subject"]["content"]["environment"] = "prod"  # type: ignore[index]
        path = write(tmp_path, "b.json", json.dumps([service_deployed(0), bad]).encode())
        result = cli.invoke(app, ["record", "event", path])
        assert result.exit_code == 1
        assert "b.json[1]" in result.output and "$.subject.content.environment" in result.output
        assert json.loads(run(cli, "log", "--json"))["events"] == []


class TestValidate:
    def test_every_conformance_event_validates(self, cli: CliRunner) -> None:
        """All 45 CDEvents v0.5.1 conformance files pass `validate` without being recorded."""
        files = sorted(str(p) for p in (CORPUS / "cdevents" / "conformance").glob("*.json"))
        assert len(files) == 45
        run(cli, "migrate")
        out = run(cli, "validate", *files)
        assert out.count("✓") == 45
        assert json.loads(run(cli, "log", "--json"))["events"] == []

    def test_invalid_file_fails(self, cli: CliRunner, tmp_path: Path) -> None:
        """`validate` exits 1 and names the invalid file."""
        ev = service_deployed(0)
        ev["context"]["type"] = "dev.cdevents.nothing.happened.0.1.0"  # type: ignore[index]
        path = write(tmp_path, "x.json", json.dumps(ev).encode())
        result = cli.invoke(app, ["validate", path])
        assert result.exit_code == 1
        assert "x.json" in result.output and "nothing" in result.output


class TestQuery:
    def test_log_show_and_filters(self, cli: CliRunner, tmp_path: Path) -> None:
        """`log` filters by service and env; `show --json` has the documented fields."""
        events = [service_deployed(0, service="a"), service_deployed(1, service="b", env="staging")]
        run(cli, "record", "event", write(tmp_path, "e.jsonl", jsonl(events)))
        docs = json.loads(run(cli, "log", "--service", "b", "--json"))["events"]
        assert [d["index"] for d in docs] == [1]
        assert json.loads(run(cli, "log", "--env", "prod", "--json"))["events"][0]["index"] == 0
        shown = json.loads(run(cli, "show", "1", "--json"))
        assert set(shown) >= {"index", "event", "refs", "leaf", "leaf_hash"}
        assert shown["event"] == events[1]
        assert set(shown["leaf"]) == {
            "id",
            "source",
            "type",
            "time",
            "received_at",
            "payload_sha256",
        }
        assert "payments" not in run(cli, "log", "--service", "a")

    def test_show_missing_index(self, cli: CliRunner) -> None:
        """`show` of a missing index fails with a clear line."""
        run(cli, "migrate")
        result = cli.invoke(app, ["show", "5"])
        assert result.exit_code == 1
        assert "no entry at index 5" in result.output


class TestTrust:
    def test_checkpoint_and_proofs_verify_independently(
        self, cli: CliRunner, tmp_path: Path
    ) -> None:
        """The printed checkpoint verifies with `key show`, and printed proofs verify against it."""
        run(
            cli,
            "record",
            "event",
            write(tmp_path, "e.jsonl", jsonl([service_deployed(i) for i in range(6)])),
        )
        cp = json.loads(run(cli, "checkpoint", "--json"))
        vkey = run(cli, "key", "show").strip()
        assert vkey.startswith("cli.example/log+")
        body = open_checkpoint(cp["note"], Verifier.from_verifier_key(vkey))
        assert (body.tree_size, base64.b64encode(body.root_hash).decode()) == (6, cp["root"])
        inc = json.loads(run(cli, "proof", "inclusion", "4", "--json"))
        assert set(inc) == {"index", "tree_size", "leaf_hash", "proof", "root", "checkpoint"}
        merkle.verify_inclusion(
            4,
            6,
            base64.b64decode(inc["leaf_hash"]),
            [base64.b64decode(p) for p in inc["proof"]],
            body.root_hash,
        )
        run(
            cli,
            "record",
            "event",
            write(tmp_path, "f.jsonl", jsonl([service_deployed(i) for i in range(6, 9)])),
        )
        con = json.loads(run(cli, "proof", "consistency", "6", "9", "--json"))
        assert set(con) == {"first", "second", "first_root", "second_root", "proof"}
        assert con["first_root"] == cp["root"]
        merkle.verify_consistency(
            6,
            9,
            body.root_hash,
            base64.b64decode(con["second_root"]),
            [base64.b64decode(p) for p in con["proof"]],
        )

    def test_verify_passes_then_names_tampering(
        self, cli: CliRunner, tmp_path: Path, database_url: str
    ) -> None:
        """`verify` exits 0 on a clean log and 1 naming the index after a payload is altered."""
        run(
            cli,
            "record",
            "event",
            write(tmp_path, "e.jsonl", jsonl([service_deployed(i) for i in range(5)])),
        )
        run(cli, "checkpoint")
        report = json.loads(run(cli, "verify", "--json"))
        assert report["ok"] is True and report["entries_checked"] == 5
        import sqlalchemy as sa

        from flightlog.store.engine import create_engine

        engine = create_engine(database_url)
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE entries SET payload_sha256 = :d WHERE idx = 3"), {"d": "0" * 64}
            )
        engine.dispose()
        result = cli.invoke(app, ["verify"])
        assert result.exit_code == 1
        assert "index 3" in result.output

    def test_erase_then_verify(self, cli: CliRunner, tmp_path: Path) -> None:
        """`erase` removes a payload, records who and why, and `verify` still passes."""
        run(
            cli,
            "record",
            "event",
            write(tmp_path, "e.jsonl", jsonl([service_deployed(i) for i in range(3)])),
        )
        out = json.loads(run(cli, "erase", "1", "--reason", "token pasted in a message", "--json"))
        assert out == {"erased": 1, "erasure_index": 3}
        erasure = json.loads(run(cli, "show", "3", "--json"))["event"]
        assert erasure["subject"]["content"]["erasedBy"] == "carol"
        report = json.loads(run(cli, "verify", "--json"))
        assert report["ok"] is True and report["erased"] == [1]
