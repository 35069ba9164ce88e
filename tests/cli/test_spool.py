"""Spooling: a step whose server is down is kept on disk and sent later, never doubled.

These run ``flightlog record`` and ``flightlog flush`` against a real ``flightlog serve``
process that is stopped and started on the same port.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flightlog.cli.app import app
from tests.cli.test_record_commands import ARTIFACT, GITHUB, NO_CI, corpus
from tests.paths import corpus_file
from tests.server.harness import ServerProcess, free_port, start_server, stop_server

pytestmark = pytest.mark.slow

JUNIT = "junit/jest-junit.xml"


class Site:
    """A server's store and home, and a client's home, for one test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server_env = {
            "FLIGHTLOG_DATABASE_URL": f"sqlite:///{tmp_path / 'server.db'}",
            "FLIGHTLOG_HOME": str(tmp_path / "server-home"),
        }
        self.client_home = tmp_path / "client-home"
        self.process: ServerProcess | None = None

    def start(self) -> None:
        """Start (or restart) the server on the site's port."""
        self.process = start_server(self.server_env, self.tmp, "--checkpoint-interval", "3600",
                                    port=self.port)  # fmt: skip

    def stop(self) -> None:
        """Stop the server (SIGTERM) and wait for it."""
        assert self.process is not None
        stop_server(self.process)
        self.process = None

    @property
    def token(self) -> str:
        """The admin token the server wrote on its first start."""
        return (self.tmp / "server-home" / "admin.token").read_text().strip()

    def cli(self, token: str | None = None, **extra: str | None) -> CliRunner:
        """A runner in GitHub Actions whose server is this site."""
        return CliRunner(
            env={
                **NO_CI,
                **GITHUB,
                "FLIGHTLOG_SERVER": self.url,
                "FLIGHTLOG_TOKEN": token or "",
                "FLIGHTLOG_HOME": str(self.client_home),
                "FLIGHTLOG_DATABASE_URL": f"sqlite:///{self.tmp / 'client.db'}",
                "FLIGHTLOG_STRICT": None,
                **extra,
            }
        )

    def spooled(self) -> list[Path]:
        """The spool files waiting, oldest first."""
        return sorted((self.client_home / "spool").glob("*.json"))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """A site whose server is not running yet; stopped afterwards if it is."""
    s = Site(tmp_path)
    try:
        yield s
    finally:
        if s.process is not None:
            s.stop()


def invoke(cli: CliRunner, *args: str, code: int = 0) -> Any:
    """Run a command, check its exit status, and return the result."""
    result = cli.invoke(app, list(args))
    assert result.exit_code == code, result.stdout + result.stderr
    return result


def log_ids(cli: CliRunner) -> list[tuple[int, str]]:
    """(index, event id) of every entry the server holds."""
    docs = json.loads(invoke(cli, "log", "--json", "--limit", "1000").stdout)["events"]
    return [(d["index"], d["event"]["context"]["id"]) for d in docs]


class TestUnreachable:
    """Nothing listens: the step is spooled and exits 0 with a warning."""

    def test_spooled_then_sent_by_the_next_record(self, site: Site) -> None:
        """Two steps spooled while down are sent, in order, before the next step's own events."""
        down = site.cli(token="not-yet")
        tested = invoke(down, "record", "test", "--junit", corpus(JUNIT), "--json")
        out = json.loads(tested.stdout)
        assert out["index"] is None
        assert out["spooled"] == str(site.spooled()[0])
        assert "warning: cannot reach the Flightlog server at " + site.url in tested.stderr
        assert "1 event(s) spooled to" in tested.stderr
        built = invoke(down, "record", "build", "--artifact", ARTIFACT)
        assert built.stdout.strip() == (
            f"build of {ARTIFACT} spooled: the server is unavailable "
            "(sent by the next record or `flightlog flush`)"
        )
        assert len(site.spooled()) == 2
        test_id = json.loads(site.spooled()[0].read_text())["events"][0]["context"]["id"]

        site.start()
        up = site.cli(token=site.token)
        deployed = json.loads(
            invoke(up, "record", "deploy", "--service", "api", "--env", "prod", "--artifact",
                   ARTIFACT, "--status", "started", "--json").stdout
        )  # fmt: skip
        assert deployed["index"] == 3
        assert site.spooled() == []
        ids = log_ids(up)
        assert [i for i, _ in ids] == [0, 1, 2, 3]
        assert ids[0][1] == test_id
        # The report travelled with its event.
        digest = hashlib.sha256(corpus_file(JUNIT).read_bytes()).hexdigest()
        assert invoke(up, "blob", "get", digest).stdout_bytes == corpus_file(JUNIT).read_bytes()

    def test_strict_fails_and_spools_nothing(self, site: Site) -> None:
        """--strict turns an unreachable server into a failed step, with nothing spooled."""
        result = invoke(site.cli(), "record", "build", "--artifact", ARTIFACT, "--strict", code=1)
        assert result.stderr.startswith("error: cannot reach the Flightlog server at ")
        assert result.stderr.strip().endswith("nothing was recorded or spooled (--strict)")
        assert site.spooled() == []
        env_strict = site.cli(FLIGHTLOG_STRICT="1")
        invoke(env_strict, "record", "build", "--artifact", ARTIFACT, code=1)
        assert site.spooled() == []

    def test_flush_while_down_keeps_everything(self, site: Site) -> None:
        """`flightlog flush` against a stopped server fails and keeps the spool."""
        invoke(site.cli(), "record", "build", "--artifact", ARTIFACT)
        result = invoke(site.cli(), "flush", code=1)
        assert "error: 1 spooled step(s) still waiting: cannot reach" in result.stderr
        assert len(site.spooled()) == 1

    def test_flush_needs_a_server(self, site: Site) -> None:
        """Spooled steps wait for a server: flush without one says so."""
        invoke(site.cli(), "record", "build", "--artifact", ARTIFACT)
        result = invoke(site.cli(FLIGHTLOG_SERVER=""), "flush", code=1)
        assert "1 spooled step(s) in" in result.stderr
        assert "set --server / FLIGHTLOG_SERVER" in result.stderr

    def test_an_empty_spool_flushes_to_nothing(self, site: Site) -> None:
        """With nothing spooled, flush succeeds without contacting anyone."""
        out = json.loads(invoke(site.cli(FLIGHTLOG_SERVER=""), "flush", "--json").stdout)
        assert out == {"sent": [], "rejected": [], "remaining": 0, "error": None}


class TestRestarted:
    """The server goes away and comes back on the same port and store."""

    def test_stopped_server_then_flush(self, site: Site) -> None:
        """A step spooled while the server is stopped is sent by `flightlog flush` on restart."""
        site.start()
        cli = site.cli(token=site.token)
        first = json.loads(invoke(cli, "record", "build", "--artifact", ARTIFACT, "--json").stdout)
        assert first["indexes"] == [0, 1]
        site.stop()
        invoke(cli, "record", "scan", corpus("sarif/snyk-container-result.sarif"),
               "--artifact", ARTIFACT)  # fmt: skip
        assert len(site.spooled()) == 1
        site.start()
        out = json.loads(invoke(cli, "flush", "--json").stdout)
        assert out["remaining"] == 0
        assert [s["indexes"] for s in out["sent"]] == [[2]]
        assert site.spooled() == []
        entry = json.loads(invoke(cli, "show", "2", "--json").stdout)
        report = entry["event"]["subject"]["content"]["report"]
        kept = invoke(cli, "blob", "get", report["sha256"]).stdout_bytes
        assert kept == corpus_file("sarif/snyk-container-result.sarif").read_bytes()

    def test_a_resent_step_is_not_doubled(self, site: Site) -> None:
        """A spooled step the server already committed (its answer lost) is acknowledged, not doubled."""
        invoke(site.cli(), "record", "build", "--artifact", ARTIFACT)
        [path] = site.spooled()
        copy = site.tmp / "copy.json"
        shutil.copy(path, copy)
        site.start()
        cli = site.cli(token=site.token)
        invoke(cli, "flush")
        shutil.copy(copy, path)
        out = json.loads(invoke(cli, "flush", "--json").stdout)
        assert [s["indexes"] for s in out["sent"]] == [[0, 1]]
        assert [i for i, _ in log_ids(cli)] == [0, 1]


class TestRefused:
    """A 4xx is the caller's mistake: never spooled."""

    def test_a_bad_token_fails_the_step(self, site: Site) -> None:
        """401 fails the step with the server's reason, and nothing is spooled."""
        site.start()
        result = invoke(site.cli(token="fl_wrong"), "record", "build", "--artifact", ARTIFACT,
                        code=1)  # fmt: skip
        assert result.stderr.startswith("error: ")
        assert "token" in result.stderr
        assert site.spooled() == []

    def test_a_refused_spool_file_moves_aside(self, site: Site) -> None:
        """A spooled step the server refuses (422) moves to spool/rejected with the reason."""
        invoke(site.cli(), "record", "build", "--artifact", ARTIFACT)
        [path] = site.spooled()
        doc = json.loads(path.read_text())
        doc["events"][0]["context"]["type"] = "not-a-type"
        path.write_text(json.dumps(doc))
        site.start()
        cli = site.cli(token=site.token)
        result = invoke(cli, "flush", code=1)
        assert "the server refused 1 spooled step(s)" in result.stderr
        rejected = site.client_home / "spool" / "rejected"
        assert (rejected / path.name).exists()
        reason = (rejected / f"{path.stem}.error.txt").read_text()
        assert "context.type" in reason
        assert log_ids(cli) == []


class _Answer502(http.server.BaseHTTPRequestHandler):
    """A proxy whose upstream is gone: 502 to everything."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = b"upstream gone"
        self.send_response(502)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


def test_a_5xx_answer_is_spooled(tmp_path: Path) -> None:
    """A 502 from a proxy in front of the server spools the step like an unreachable server."""
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer502)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        site = Site(tmp_path)
        cli = site.cli(
            token="fl_proxy-token", FLIGHTLOG_SERVER=f"http://127.0.0.1:{proxy.server_port}"
        )
        result = invoke(cli, "record", "test", "--junit", corpus(JUNIT))
        assert "warning: the Flightlog server answered 502: upstream gone;" in result.stderr
        assert len(site.spooled()) == 1
    finally:
        proxy.shutdown()
        proxy.server_close()
