"""The CLI runner every CLI test uses: a fresh store on each backend, no server."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner


def runner_for(database_url: str, tmp_path: Path) -> CliRunner:
    """A runner whose environment points every command at ``database_url``, no server."""
    return CliRunner(
        env={
            "FLIGHTLOG_DATABASE_URL": database_url,
            "FLIGHTLOG_HOME": str(tmp_path / "home"),
            "FLIGHTLOG_ORIGIN": "cli.example/log",
            "FLIGHTLOG_SERVER": "",
            "FLIGHTLOG_ACTOR": "carol",
        }
    )


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> CliRunner:
    """A runner whose environment points every command at a fresh store."""
    return runner_for(database_url, tmp_path)
