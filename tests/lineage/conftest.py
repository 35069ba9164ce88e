"""A ledger holding the demo history, recorded through the webhook mapping and pipeline steps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flightlog.config import Settings
from flightlog.demo import demo_history
from flightlog.service import Flightlog
from flightlog.store.lineage import LINEAGE_TABLES

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def lineage_state(fl: Flightlog) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the lineage tables and the search index, in key order."""
    with fl.store.engine.connect() as conn:
        state = {
            name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]
            for name, t in LINEAGE_TABLES.items()
        }
        column = "rowid" if conn.dialect.name == "sqlite" else "idx"
        state["search_index"] = [
            tuple(r)
            for r in conn.execute(sa.text(f"SELECT {column}, body FROM search_index ORDER BY 1"))
        ]
    return state


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
