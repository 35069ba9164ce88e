"""A ledger holding the demo history, recorded through the webhook mapping and pipeline steps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flightlog.config import Settings
from flightlog.demo import demo_history
from flightlog.service import Flightlog

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def record_history(fl: Flightlog) -> None:
    """Append every batch of the demo history, in order, one append per step or delivery."""
    for name, events in demo_history(START):
        data = "\n".join(json.dumps(e) for e in events).encode()
        fl.record(fl.parse_and_validate(data, name=name))


@pytest.fixture
def history(settings: Settings) -> Iterator[Flightlog]:
    """A ledger on each backend holding the demo history."""
    fl = Flightlog.open(settings)
    record_history(fl)
    yield fl
    fl.close()


@pytest.fixture
def sqlite_history(sqlite_settings: Settings) -> Iterator[Flightlog]:
    """A ledger on SQLite holding the demo history."""
    fl = Flightlog.open(sqlite_settings)
    record_history(fl)
    yield fl
    fl.close()


@pytest.fixture
def postgres_history(postgres_url: str, tmp_path: Path) -> Iterator[Flightlog]:
    """A ledger on PostgreSQL holding the demo history."""
    settings = Settings(
        database_url=postgres_url, home=tmp_path / "home", origin="test.example/log"
    )
    fl = Flightlog.open(settings)
    record_history(fl)
    yield fl
    fl.close()
