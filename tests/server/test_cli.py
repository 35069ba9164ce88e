"""``flightlog serve`` and ``flightlog token …`` on a local store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flightlog.auth.tokens import authenticate
from flightlog.cli.app import app
from flightlog.cli.server_commands import default_origin_warning, is_sqlite_url, server_url
from flightlog.config import Settings
from flightlog.errors import AuthError
from flightlog.service import Flightlog


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """FLIGHTLOG_* pointing at a fresh SQLite store under tmp_path."""
    monkeypatch.setenv("FLIGHTLOG_DATABASE_URL", f"sqlite:///{tmp_path / 'f.db'}")
    monkeypatch.setenv("FLIGHTLOG_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FLIGHTLOG_SERVER", raising=False)
    return Settings.from_env()


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


class TestTokenCommands:
    """token create / list / revoke."""

    def test_create_prints_the_secret_once_and_it_works(self, env: Settings) -> None:
        """create prints only the secret on stdout; it authenticates with its scopes."""
        code, out, err = _run(
            "token", "create", "--name", "ci", "--scope", "ingest", "--scope", "read"
        )
        assert code == 0, err
        secret = out.strip()
        assert secret.startswith("fl_")
        assert "not shown again" in err
        with Flightlog.open(env) as service:
            assert authenticate(service.tokens, secret).scopes == ("ingest", "read")

    def test_create_json(self, env: Settings) -> None:
        """--json prints token, name and scopes."""
        code, out, _ = _run("token", "create", "--name", "bot", "--scope", "admin", "--json")
        doc = json.loads(out)
        assert code == 0
        assert (doc["name"], doc["scopes"]) == ("bot", ["admin"])
        assert doc["token"].startswith("fl_")

    def test_unknown_scope_fails_clearly(self, env: Settings) -> None:
        """--scope write exits 1 naming the bad scope."""
        code, _, err = _run("token", "create", "--name", "x", "--scope", "write")
        assert code == 1
        assert "unknown scope 'write'" in err

    def test_list_shows_names_and_scopes_never_secrets(self, env: Settings) -> None:
        """list (table and --json) shows both tokens and no secret."""
        _, secret, _ = _run("token", "create", "--name", "ci", "--scope", "ingest")
        _run("token", "create", "--name", "auditor", "--scope", "read")
        code, out, _ = _run("token", "list")
        assert code == 0
        assert "ci" in out
        assert "auditor" in out
        assert secret.strip() not in out
        code, out, _ = _run("token", "list", "--json")
        assert [(t["name"], t["scopes"], t["revoked_at"]) for t in json.loads(out)] == [
            ("ci", ["ingest"], None),
            ("auditor", ["read"], None),
        ]

    def test_revoke(self, env: Settings) -> None:
        """revoke makes the token fail authentication; an unknown name exits 1."""
        _, secret, _ = _run("token", "create", "--name", "ci", "--scope", "read")
        code, out, _ = _run("token", "revoke", "ci")
        assert code == 0
        assert "'ci' revoked" in out
        with Flightlog.open(env) as service, pytest.raises(AuthError, match="revoked"):
            authenticate(service.tokens, secret.strip())
        code, _, err = _run("token", "revoke", "ghost")
        assert code == 1
        assert "'ghost'" in err


class TestServe:
    """serve's refusals and helpers (the running server is tested in test_uvicorn)."""

    def test_workers_on_sqlite_are_refused(self, env: Settings) -> None:
        """--workers 2 on SQLite exits 2 explaining PostgreSQL is needed."""
        code, _, err = _run("serve", "--workers", "2")
        assert code == 2
        assert "PostgreSQL" in err

    def test_is_sqlite_url(self) -> None:
        """SQLite URLs are recognised; PostgreSQL ones (any spelling) are not."""
        assert is_sqlite_url("sqlite:///x.db")
        assert not is_sqlite_url("postgresql://u@h/db")
        assert not is_sqlite_url("postgresql+psycopg://u@h/db")

    def test_server_url_brackets_ipv6(self) -> None:
        """IPv6 hosts are bracketed in the printed URL."""
        assert server_url("::1", 8080) == "http://[::1]:8080"
        assert server_url("127.0.0.1", 80) == "http://127.0.0.1:80"


class TestDefaultOrigin:
    """serve warns when the log signs under the shared default origin."""

    def test_default_origin_is_warned_about(self, tmp_path: Path) -> None:
        """The default origin gets a warning naming FLIGHTLOG_ORIGIN; another origin none."""
        shared = Settings(database_url="sqlite:///x.db", home=tmp_path)
        warning = default_origin_warning(shared)
        assert warning is not None
        assert "flightlog.localhost/log" in warning and "FLIGHTLOG_ORIGIN" in warning
        own = Settings(database_url="sqlite:///x.db", home=tmp_path, origin="audit.example/log")
        assert default_origin_warning(own) is None
