"""Engines for the two supported stores: an embedded SQLite file and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from flightlog.errors import StoreError


def normalise_url(url: str) -> str:
    """Map plain ``postgresql://`` URLs to the psycopg 3 driver."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def parse_database_url(url: str) -> sa.URL:
    """The parsed database URL; StoreError naming the expected form when it does not parse."""
    try:
        parsed = make_url(normalise_url(url))
    except (sa.exc.ArgumentError, ValueError):
        parsed = None
    if parsed is None or parsed.get_backend_name() not in ("sqlite", "postgresql"):
        hint = (
            f"sqlite:///{url}"
            if url.endswith(".db") and "://" not in url
            else "sqlite:///flightlog.db"
        )
        raise StoreError(
            f"database URL {url[:200]!r} is not supported: use {hint} or "
            "postgresql+psycopg://USER@HOST/DB"
        )
    return parsed


def require_existing_store(url: str) -> None:
    """StoreError unless ``url`` names an SQLite file that exists and is not empty (or a server)."""
    parsed = parse_database_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database)
    if not path.is_file():
        raise StoreError(
            f"no ledger at {path}; record an event or run `flightlog migrate` to create one"
        )
    if path.stat().st_size == 0:
        raise StoreError(f"no ledger at {path}: the file is empty")


def delete_sqlite_files(path: str) -> list[str]:
    """Delete an SQLite database file and its ``-wal`` and ``-shm`` files; those removed."""
    removed = []
    for name in (path, f"{path}-wal", f"{path}-shm"):
        try:
            Path(name).unlink()
        except FileNotFoundError:
            continue
        removed.append(name)
    return removed


WRITE_OPTION = "flightlog_write"


def write_transaction(engine: sa.Engine) -> Any:
    """``engine.begin()`` for a transaction that writes (SQLite: ``BEGIN IMMEDIATE``)."""
    return engine.execution_options(**{WRITE_OPTION: True}).begin()


def is_sqlite(engine: sa.Engine) -> bool:
    """Whether ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def create_engine(url: str) -> sa.Engine:
    """Create an engine; on SQLite: WAL, ``synchronous=FULL``, immediate write transactions.

    Transactions opened through :func:`write_transaction` start with ``BEGIN IMMEDIATE``,
    taking the write lock up front, so two processes appending to one SQLite file
    serialise instead of failing on lock upgrade; every other transaction is a plain
    deferred read that never waits for a writer (WAL).
    """
    parsed = parse_database_url(url)
    url = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"isolation_level": None, "timeout": 30, "check_same_thread": False},
            poolclass=sa.pool.QueuePool,
            pool_size=4,
            max_overflow=8,
        )
        _install_sqlite_hooks(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(url, pool_size=5, max_overflow=10, pool_pre_ping=True)
    raise StoreError(
        f"unsupported database URL scheme {parsed.drivername!r}: use sqlite:///FILE "
        "or postgresql+psycopg://USER@HOST/DB"
    )


def _install_sqlite_hooks(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def ping(engine: sa.Engine) -> None:
    """Run ``SELECT 1``; StoreError when the database cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"database unreachable: {type(exc).__name__}") from exc
