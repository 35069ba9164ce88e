"""The large log that verify and proof measure: built once, then reused from bench/data.

A log of N entries lives in ``bench/data/log-N.db`` with its signing key in
``bench/data/log-N.home``; ``log-N.json`` is written only after the build completed,
so an interrupted build is started again rather than measured.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bench import events as gen
from flightlog.config import Settings
from flightlog.service import Flightlog

BUILD_BATCH = 10_000
FORMAT = 3  # bump when the generated events change, so stale caches are rebuilt


@dataclass(frozen=True)
class CachedLog:
    """A built log: where its database and signing key are, and its size."""

    path: Path
    home: Path
    entries: int
    build_seconds: float | None  # None when reused from an earlier run

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the database."""
        return f"sqlite:///{self.path}"

    def settings(self) -> Settings:
        """Settings that open this log with the key it was signed with."""
        return Settings(database_url=self.url, home=self.home)


def _marker(data_dir: Path, entries: int) -> Path:
    return data_dir / f"log-{entries}.json"


def cached_build(
    path: Path, home: Path, marker: Path, meta: dict[str, Any], build: Callable[[], None]
) -> float | None:
    """Reuse the SQLite store at ``path`` (key in ``home``) if ``marker`` records ``meta``;
    else remove what is there, run ``build`` and write the marker after it completed.

    Returns the build's seconds, or None when the store was reused.
    """
    if marker.exists() and path.exists():
        recorded = json.loads(marker.read_text(encoding="utf-8"))
        if all(recorded.get(key) == value for key, value in meta.items()):
            return None
    marker.unlink(missing_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(home, ignore_errors=True)
    started = time.perf_counter()
    build()
    seconds = time.perf_counter() - started
    marker.write_text(json.dumps({**meta, "build_seconds": round(seconds, 1)}), encoding="utf-8")
    return seconds


def ensure_log(entries: int, data_dir: Path, console: Console) -> CachedLog:
    """The cached log of ``entries`` entries, building it first if needed."""
    log = CachedLog(data_dir / f"log-{entries}.db", data_dir / f"log-{entries}.home", entries, None)
    meta = {"format": FORMAT, "entries": entries}
    seconds = cached_build(
        log.path, log.home, _marker(data_dir, entries), meta, lambda: _build(log, console)
    )
    return CachedLog(log.path, log.home, entries, seconds)


def _build(log: CachedLog, console: Console) -> None:
    checkpoint_every = max(log.entries // 10, BUILD_BATCH)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Flightlog.open(log.settings()) as service, Progress(*columns, console=console) as bar:
        gen.check_prepared(service, gen.events(0, 50, run="log"))
        task = bar.add_task(f"building a {log.entries:,}-entry log", total=log.entries)
        done = 0
        while done < log.entries:
            count = min(BUILD_BATCH, log.entries - done)
            batch = gen.prepare_known_valid(gen.events(done, count, run="log"), name="build")
            service.record(batch)
            done += count
            if done % checkpoint_every < count or done == log.entries:
                service.checkpoint()
            bar.update(task, completed=done)
    # Fold the WAL into the main file so every later run reads the same layout.
    conn = sqlite3.connect(log.path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


_PG_TABLES = (
    (
        "entries",
        "idx, event_id, source, type, time, time_utc, received_at, payload_sha256, payload",
    ),
    ("tiles", "level, idx, hashes"),
    ("checkpoints", "id, tree_size, root_hash, note, created_at"),
    ("refs", "kind, value, idx"),
)


def ensure_pg_log(log: CachedLog, url: str, console: Console) -> str:
    """The URL of a PostgreSQL schema holding a copy of ``log`` (copied once, then reused).

    The copy holds what verification and proofs read (entries, tiles, checkpoints, refs,
    the tree size); a copy of an earlier build of the log (another first checkpoint) is
    replaced.
    """
    import psycopg
    from psycopg import sql

    from bench.append import libpq_dsn, with_search_path
    from flightlog.store.ledger import LedgerStore

    schema = f"bench_log_{log.entries}_f{FORMAT}_refs"
    dsn = libpq_dsn(url)
    scoped = with_search_path(url, schema)
    with sqlite3.connect(log.path) as source:
        first_note = source.execute("SELECT note FROM checkpoints ORDER BY id LIMIT 1").fetchone()
    with psycopg.connect(dsn, autocommit=True) as conn:
        done = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s"
            " AND table_name = 'bench_copied'",
            (schema,),
        ).fetchone()
        if done is not None:
            copied = conn.execute(
                sql.SQL("SELECT note FROM {}.checkpoints ORDER BY id LIMIT 1").format(
                    sql.Identifier(schema)
                )
            ).fetchone()
            if copied == first_note:
                return scoped
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    LedgerStore.open(scoped).close()
    source = sqlite3.connect(log.path)
    try:
        with (
            psycopg.connect(dsn) as conn,
            console.status(f"copying the {log.entries:,}-entry log to PostgreSQL"),
        ):
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            for table, columns in _PG_TABLES:
                query = f"COPY {table} ({columns}) FROM STDIN"
                with conn.cursor().copy(query) as copy:  # type: ignore[arg-type]
                    for row in source.execute(f"SELECT {columns} FROM {table}"):
                        copy.write_row(row)
            size = source.execute("SELECT tree_size FROM ledger_state").fetchone()[0]
            conn.execute("UPDATE ledger_state SET tree_size = %s WHERE id = 1", (size,))
            conn.execute(
                "SELECT setval(pg_get_serial_sequence('checkpoints', 'id'),"
                " (SELECT max(id) FROM checkpoints))"
            )
            conn.execute("CREATE TABLE bench_copied ()")
            conn.commit()
            conn.execute("ANALYZE")
    finally:
        source.close()
    return scoped
