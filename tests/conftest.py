"""Shared fixtures: real stores (an SQLite file, the real PostgreSQL server) and settings.

Store-level tests take ``database_url`` and so run twice: once on a fresh SQLite file,
once on a fresh schema of the real PostgreSQL server. PostgreSQL tests skip only
outside CI; under ``CI=true`` an unreachable server fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from flightlog.config import Settings

POSTGRES_URL = os.environ.get(
    "FLIGHTLOG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except Exception as exc:
        return str(exc)


_PG_PROBLEM = _postgres_available()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to a fresh, empty schema of the real PostgreSQL server (dropped afterwards)."""
    if _PG_PROBLEM is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {_PG_PROBLEM}")
        pytest.skip(f"PostgreSQL unreachable: {_PG_PROBLEM}")
    import psycopg

    schema = f"fl_{uuid.uuid4().hex[:12]}"
    plain = POSTGRES_URL.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL to a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'flightlog.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store on each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'flightlog.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for a fresh ledger on each backend, its key under ``tmp_path``."""
    from flightlog.config import Settings

    return Settings(database_url=database_url, home=tmp_path / "home", origin="test.example/log")


@pytest.fixture
def sqlite_settings(sqlite_url: str, tmp_path: Path) -> Settings:
    """Settings for a fresh ledger on SQLite only."""
    from flightlog.config import Settings

    return Settings(database_url=sqlite_url, home=tmp_path / "home", origin="test.example/log")
