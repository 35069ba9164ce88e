"""`flightlog source add|list|remove` and `flightlog blob get`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flightlog.cli.app import app
from flightlog.store.blobs import BlobStore
from flightlog.store.ledger import LedgerStore
from flightlog.store.webhook_sources import WebhookSources


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> CliRunner:
    """A runner whose environment points every command at a fresh store."""
    return CliRunner(
        env={
            "FLIGHTLOG_DATABASE_URL": database_url,
            "FLIGHTLOG_HOME": str(tmp_path / "home"),
            "FLIGHTLOG_SERVER": "",
            "FLIGHTLOG_PUBLIC_URL": "",
        }
    )


def run(cli: CliRunner, *args: str, code: int = 0) -> str:
    """Run a command, check its exit status, return its standard output."""
    result = cli.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.stdout


class TestSourceAdd:
    """Creating a source prints everything the forge's settings page asks for."""

    def test_github_json_prints_url_secret_and_events(
        self, cli: CliRunner, database_url: str
    ) -> None:
        """--json gives the webhook URL, a fresh secret and the events to tick."""
        out = json.loads(
            run(cli, "source", "add", "github", "--url", "https://fl.example.com/", "--json")
        )
        assert out["url"] == "https://fl.example.com/webhooks/github"
        assert len(out["secret"]) >= 32
        assert "Workflow runs" in out["events"]
        stored = WebhookSources(LedgerStore.open(database_url).engine).secret("github")
        assert stored == out["secret"]

    def test_gitlab_with_given_secret(self, cli: CliRunner) -> None:
        """A given secret is used as is; the text output names the GitLab fields."""
        out = run(cli, "source", "add", "gitlab", "--secret", "my-own-secret-token-1")
        assert "Secret token:  my-own-secret-token-1" in out
        assert "URL:           http://127.0.0.1:8080/webhooks/gitlab" in out
        assert "Pipeline events" in out

    def test_second_add_is_refused(self, cli: CliRunner) -> None:
        """A forge has one source; adding it again names the remedy."""
        run(cli, "source", "add", "github")
        result = cli.invoke(app, ["source", "add", "github"])
        assert result.exit_code == 1
        assert "flightlog source remove github" in result.output

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["bitbucket"], "unknown forge"),
            (["github", "--secret", "short"], "16 to 256"),
            (["github", "--secret", "has a space in it!"], "without spaces"),
        ],
    )
    def test_bad_input(self, cli: CliRunner, args: list[str], message: str) -> None:
        """An unknown forge or a weak secret is one clear error line."""
        result = cli.invoke(app, ["source", "add", *args])
        assert result.exit_code != 0
        assert message in result.output


class TestSourceListRemove:
    """Listing never shows a secret; removing forgets it."""

    def test_list_and_remove(self, cli: CliRunner) -> None:
        """Both forges are listed without secrets; a removed one is gone."""
        secret = json.loads(run(cli, "source", "add", "github", "--json"))["secret"]
        run(cli, "source", "add", "gitlab")
        listed = run(cli, "source", "list", "--json")
        assert secret not in listed
        assert [s["forge"] for s in json.loads(listed)] == ["github", "gitlab"]
        run(cli, "source", "remove", "github")
        assert [s["forge"] for s in json.loads(run(cli, "source", "list", "--json"))] == ["gitlab"]
        result = cli.invoke(app, ["source", "remove", "github"])
        assert result.exit_code == 1
        assert "no github source" in result.output


class TestBlobGet:
    """The exact bytes, to standard output or a file."""

    def test_stdout_and_file(self, cli: CliRunner, database_url: str, tmp_path: Path) -> None:
        """`blob get` prints the bytes; `-o FILE` writes them."""
        data = b'{"ref": "refs/heads/main"}\n\x00'
        digest = BlobStore(LedgerStore.open(database_url).engine).put(data)
        result = cli.invoke(app, ["blob", "get", digest])
        assert result.exit_code == 0
        assert result.stdout_bytes == data
        target = tmp_path / "body.json"
        run(cli, "blob", "get", digest, "-o", str(target))
        assert target.read_bytes() == data

    def test_missing_and_malformed(self, cli: CliRunner) -> None:
        """An unknown digest and a malformed one are one-line errors."""
        run(cli, "migrate")
        result = cli.invoke(app, ["blob", "get", "0" * 64])
        assert result.exit_code == 1
        assert "no blob" in result.output
        result = cli.invoke(app, ["blob", "get", "xyz"])
        assert result.exit_code == 1
        assert "not a SHA-256" in result.output
