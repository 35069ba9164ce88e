"""Answer times of trace, suspects, search and a filtered log through the HTTP API.

A history of N events (1,000,000 by default) is made by the demo generator: demo
histories (webhook deliveries and pipeline steps, 81 events each) of many services
(``GROUPS`` pairs, ``payments-NNN`` and ``web-NNN``), one history of each pair after the
other and the pairs staggered in time, merged in time order, so the ledger reads like
months of many services deploying. It is appended in process, 1,000 events per
transaction, once, and cached as ``bench/data/questions-N.db`` (with its signing key in
``questions-N.home``); ``questions-N.json`` is written only after the build completed.
PostgreSQL gets a row-for-row copy of that store (COPY into a database of its own,
dropped afterwards; with ``--keep-postgres NAME``, made once and kept for later runs).
``--only QUESTION`` and ``--no-sqlite`` ask less, to iterate on one question: their
figures are printed, not written to RESULTS.md.

Then ``flightlog serve`` runs on each store and each question is asked over HTTP with a
``read`` token, ASKS times, each time with arguments drawn from the history (services,
times, incidents, commits, words). Figures are p50/p95 milliseconds, beside the HTTP
round trip of ``GET /api/v1/checkpoint`` measured in the same run as the baseline. Issue
targets (on 1,000,000 events, through the API): trace < 100 ms p95, suspects and search
< 200 ms p95, a filtered log < 50 ms p95.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import os
import random
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql
from rich.console import Console
from sqlalchemy.engine import make_url

from bench.cached_log import cached_build
from bench.config import BenchConfig, run_alone
from bench.events import prepare_known_valid
from bench.results import Row, Section, Target, machine, percentile, print_section
from bench.server import FLIGHTLOG, create_token, free_port, running
from flightlog.config import Settings
from flightlog.demo import demo_history
from flightlog.service import Flightlog

ASKS = 60
BUILD_BATCH = 1000
GROUPS = 200  # service pairs: payments-NNN and web-NNN
HISTORY_DAYS = 7  # one history of a pair ends before the pair's next one starts
FORMAT = 2  # bump when the generated history changes, so stale caches are rebuilt
START = datetime(2025, 1, 6, 9, tzinfo=UTC)
TARGETS = {"trace": 100.0, "suspects": 200.0, "search": 200.0, "log": 50.0}
QUESTIONS = ("log", "trace", "suspects", "search")  # in the order they are asked
_SERVICE = re.compile(r"\b(payments|web)\b")
_NUMBER = re.compile(
    r'("number": |/pull/|#|/runs/|(?:payments|web)-\d{3}-|(?:payments|web)-\d{3}/\w+/)([1-4])\b'
)


# -- the history ---------------------------------------------------------------------------


def _start(number: int) -> datetime:
    """When history ``number`` starts: its pair's turn, the pairs staggered over the days."""
    return START + timedelta(days=HISTORY_DAYS) * (number // GROUPS + (number % GROUPS) / GROUPS)


def _history(number: int) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Demo history ``number``, its services renamed to those of its pair, with batch times."""
    group = number % GROUPS
    rounds = number // GROUPS
    for _, batch in demo_history(_start(number), run=f"q{number}"):
        text = _SERVICE.sub(rf"\1-{group:03d}", json.dumps(batch))
        # Each history numbers its pull requests (and their runs and deployments) 1 to 4;
        # on a shared repository a pull request number is never used twice.
        text = _NUMBER.sub(lambda m: f"{m.group(1)}{rounds * 10 + int(m.group(2))}", text)
        events = json.loads(text)
        yield events[0]["context"]["timestamp"], events


def history_events(count: int) -> Iterator[list[dict[str, Any]]]:
    """The first ``count`` events of the merged histories, in time order, in batches."""
    heap: list[tuple[str, int, list[dict[str, Any]]]] = []
    number, seq, out, emitted = 0, 0, [], 0

    while emitted < count:
        while not heap or _start(number).strftime("%Y-%m-%dT%H:%M:%SZ") <= heap[0][0]:
            for stamp, events in _history(number):
                heapq.heappush(heap, (stamp, seq, events))
                seq += 1
            number += 1
        _, _, events = heapq.heappop(heap)
        out.extend(events)
        if len(out) >= BUILD_BATCH:
            take = min(BUILD_BATCH, count - emitted)
            yield out[:take]
            emitted += take
            out = out[take:]
    if out and emitted < count:
        yield out[: count - emitted]


@dataclass(frozen=True)
class Store:
    """A built store: its SQLite file, its signing key, its size."""

    path: Path
    home: Path
    events: int
    build_seconds: float | None  # None when reused

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the SQLite file."""
        return f"sqlite:///{self.path}"


def ensure_store(events: int, data_dir: Path, console: Console) -> Store:
    """The cached store of ``events`` history events, built first if needed."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"questions-{events}.db"
    home = data_dir / f"questions-{events}.home"
    marker = data_dir / f"questions-{events}.json"
    meta = {"format": FORMAT, "events": events}
    seconds = cached_build(path, home, marker, meta, lambda: _build(path, home, events, console))
    return Store(path, home, events, seconds)


def _build(path: Path, home: Path, events: int, console: Console) -> None:
    """Append the merged histories to a new store at ``path``, 1,000 events a transaction."""
    settings = Settings(database_url=f"sqlite:///{path}", home=home)
    with Flightlog.open(settings) as fl, console.status("building") as status:
        done = 0
        for batch in history_events(events):
            fl.record(prepare_known_valid(batch, name="history"))
            done += len(batch)
            if done % 50_000 < BUILD_BATCH:
                status.update(f"building the {events:,}-event history: {done:,}")
                fl.checkpoint()
        fl.checkpoint()
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


# -- PostgreSQL: a copy of the store in a database of its own ----------------------------


def _sqlite_tables(source: sqlite3.Connection) -> list[str]:
    rows = source.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " AND name NOT LIKE 'search_index%' AND name != 'alembic_version'"
    )
    return [r[0] for r in rows]


def _admin_and_scoped(url: str, name: str) -> tuple[str, str]:
    """The psycopg URL of the server's admin database and the SQLAlchemy URL of ``name``."""
    admin = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    scoped = make_url(url).set(database=name).render_as_string(hide_password=False)
    return admin, scoped


def _fill_postgres(store: Store, scoped: str, console: Console) -> None:
    """Create the schema in the empty database ``scoped`` and COPY every row of ``store``."""
    Flightlog.open(Settings(database_url=scoped, home=store.home)).close()
    dsn = make_url(scoped).set(drivername="postgresql").render_as_string(hide_password=False)
    source = sqlite3.connect(store.path)
    try:
        with psycopg.connect(dsn) as conn, console.status("copying the store to PostgreSQL"):
            # Secondary indexes are built once after the copy, not row by row during it.
            indexes = conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
            ).fetchall()
            for index, _ in indexes:
                conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(index)))
            for table in _sqlite_tables(source):
                columns = [r[1] for r in source.execute(f"PRAGMA table_info({table})")]
                quoted = ", ".join(f'"{c}"' for c in columns)
                conn.execute(f"DELETE FROM {table}")  # type: ignore[arg-type]
                query = f"COPY {table} ({quoted}) FROM STDIN"
                with conn.cursor().copy(query) as copy:  # type: ignore[arg-type]
                    for row in source.execute(f"SELECT {quoted} FROM {table}"):
                        copy.write_row(row)
                if "id" in columns:
                    conn.execute(
                        "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                        f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)",  # type: ignore[arg-type]
                        (table,),
                    )
            with conn.cursor().copy("COPY search_index (idx, body) FROM STDIN") as copy:
                for row in source.execute("SELECT rowid, body FROM search_index"):
                    copy.write_row(row)
            conn.execute("SET maintenance_work_mem = '256MB'")
            for _, definition in indexes:
                conn.execute(definition)
            conn.commit()
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE")
    finally:
        source.close()


@contextlib.contextmanager
def postgres_copy(store: Store, url: str, console: Console) -> Iterator[str]:
    """A fresh database holding every row of ``store``; its URL; dropped afterwards."""
    name = f"flightlog_bench_questions_{uuid.uuid4().hex[:8]}"
    admin, scoped = _admin_and_scoped(url, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        _fill_postgres(store, scoped, console)
        yield scoped
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def kept_postgres(store: Store, url: str, name: str, console: Console) -> Iterator[str]:
    """The database ``name`` holding every row of ``store``, made once and kept.

    A comment on the database, written only after a complete copy, says which store it
    holds; a database without the right one is dropped and copied again. The schema is
    brought to the current revision on each use, as ``flightlog serve`` does.
    """
    admin, scoped = _admin_and_scoped(url, name)
    marker = f"{store.path.name} format {FORMAT}"
    with psycopg.connect(admin, autocommit=True) as conn:
        found = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
        if found is None or found[0] != marker:
            if found is not None:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            _fill_postgres(store, scoped, console)
            conn.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(name), sql.Literal(marker)
                )
            )
        else:
            Flightlog.open(Settings(database_url=scoped, home=store.home)).close()
    yield scoped


# -- the asks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Asks:
    """The requests each question is asked with, drawn from the history."""

    trace: list[str]
    suspects: list[str]
    search: list[str]
    log: list[str]


def draw_asks(store: Store, seed: int, asks: int) -> Asks:
    """``asks`` varied requests per question, from the rows of the built store."""
    rng = random.Random(seed)
    conn = sqlite3.connect(store.path)
    try:
        deployments = conn.execute(
            "SELECT environment, service, time_utc FROM deployments WHERE status = 'success'"
        ).fetchall()
        incidents = conn.execute(
            "SELECT environment, service, time_utc FROM incidents WHERE status = 'open'"
        ).fetchall()
        commits = conn.execute("SELECT key, title FROM changes WHERE kind = 'commit'").fetchall()
        scans = conn.execute("SELECT artifact FROM scans WHERE critical > 0").fetchall()
    finally:
        conn.close()
    trace, suspects, search, log = [], [], [], []
    for i in range(asks):
        env, service, when = rng.choice(deployments)
        # Half ask what runs now, half what ran at a past moment.
        trace.append(f"/api/v1/trace/{env}/{service}" + (f"?at={when}" if i % 2 else ""))
        env, service, when = rng.choice(incidents)
        # The on-call question: what changed in the hours before the incident, and where.
        if i % 2:
            query = f"env={env}&at={when}&window={6 * 3600}"
        else:
            query = f"env={env}&at={when}&window={2 * 86400}&service={service}"
        suspects.append(f"/api/v1/suspects?{query}")
        sha, title = rng.choice(commits)
        words = (title or "").split()
        kind = i % 3
        if kind == 0:
            search.append(f"/api/v1/search?q={sha[:12]}&limit=20")  # a sha as a log shows it
        elif kind == 1:
            search.append(f"/api/v1/search?q={'+'.join(words[:3])}&limit=20")
        else:
            (artifact,) = rng.choice(scans)
            image = artifact.split("@")[0].rsplit("/", 1)[-1]
            search.append(f"/api/v1/search?q=CVE-2026-4242+{image}&limit=20")
        env, service, _ = rng.choice(deployments)
        if i % 2:
            log.append(f"/api/v1/events?service={service}&env={env}&order=desc&limit=20")
        else:
            log.append(f"/api/v1/events?commit={sha}&limit=20")
    return Asks(trace, suspects, search, log)


def _timed(client: httpx.Client, paths: list[str]) -> list[float]:
    """Milliseconds of each GET, after one warm-up ask; a non-200 answer is an error."""
    client.get(paths[0])
    times = []
    for path in paths:
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"GET {path}: {answer.status_code} {answer.text[:300]}")
    return times


def ask_server(
    url: str, home: Path, asks: Asks, scratch: Path, questions: tuple[str, ...] = QUESTIONS
) -> dict[str, list[float]]:
    """Milliseconds of each ask of each of ``questions``, through ``flightlog serve``."""
    env = dict(os.environ)
    env.update({"FLIGHTLOG_DATABASE_URL": url, "FLIGHTLOG_HOME": str(home)})
    token = create_token(env, "read")
    port = free_port()
    cmd = [FLIGHTLOG, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with (
        running(cmd, env, scratch / "questions-serve.log", port) as (base, _),
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
        ) as client,
    ):
        count = len(asks.trace)
        figures = {"checkpoint": _timed(client, ["/api/v1/checkpoint"] * count)}
        for name in questions:
            figures[name] = _timed(client, getattr(asks, name))
        return figures


# -- the section ---------------------------------------------------------------------------


def _report(section: Section, backend: str, figures: dict[str, list[float]]) -> None:
    base = percentile(figures["checkpoint"], 95)
    section.rows.append(
        Row(
            f"{backend}: GET /api/v1/checkpoint p50 / p95",
            f"{percentile(figures['checkpoint'], 50):.1f} / {base:.1f} ms",
            "baseline: the HTTP round trip of a read",
        )
    )
    for name, target in TARGETS.items():
        if name not in figures:
            continue
        p50, p95 = percentile(figures[name], 50), percentile(figures[name], 95)
        section.rows.append(
            Row(f"{backend}: {name} p50 / p95", f"{p50:.1f} / {p95:.1f} ms", f"{p95 / base:.1f}x")
        )
        section.targets.append(
            Target(f"{backend}: {name} < {target:.0f} ms p95", f"{p95:.1f} ms", p95 < target)
        )


@dataclass(frozen=True)
class Options:
    """Ways to iterate on one question: the defaults measure everything afresh."""

    keep_postgres: str | None = None  # a database kept between runs instead of a fresh copy
    only: str | None = None  # ask only this question
    sqlite: bool = True  # ask the SQLite store too


def _postgres(store: Store, url: str, options: Options, console: Console) -> Any:
    """The context giving the URL of the PostgreSQL copy of ``store``, kept or fresh."""
    if options.keep_postgres:
        return kept_postgres(store, url, options.keep_postgres, console)
    return postgres_copy(store, url, console)


def run(config: BenchConfig, console: Console, options: Options | None = None) -> Section:
    """Measure and return the section."""
    options = options or Options()
    questions = (options.only,) if options.only else QUESTIONS
    events = config.entries
    store = ensure_store(events, config.data_dir, console)
    asks = draw_asks(store, config.seed, ASKS)
    section = Section(
        "questions",
        "Question answer times through the HTTP API",
        {
            "events": f"{events:,} (demo histories of {2 * GROUPS} services)",
            "asks": f"{ASKS} per question, varied",
            "server": "`flightlog serve`, 1 worker, keep-alive client",
        },
    )
    if store.build_seconds is not None:
        section.notes.append(
            f"History built in {store.build_seconds:,.0f} s "
            f"({events / store.build_seconds:,.0f} ev/s, appends of {BUILD_BATCH:,})."
        )
    scratch = config.data_dir / "questions"
    scratch.mkdir(parents=True, exist_ok=True)
    if options.sqlite:
        figures = ask_server(store.url, store.home, asks, scratch, questions)
        console.print({k: f"p95 {percentile(v, 95):.1f} ms" for k, v in figures.items()})
        _report(section, "sqlite", figures)
    if config.postgres_url:
        with _postgres(store, config.postgres_url, options, console) as url:
            figures = ask_server(url, store.home, asks, scratch, questions)
        console.print({k: f"p95 {percentile(v, 95):.1f} ms" for k, v in figures.items()})
        _report(section, "postgresql", figures)
    section.notes.append(
        "Each ask is one GET with a keep-alive client; the note beside each figure is its "
        "p95 over the baseline's. trace asks what runs now or at a past moment in one of "
        "the services; suspects asks about an incident of the history, for the whole "
        "environment in the 6 hours before it or for the incident's service in the 2 days "
        "before it; search asks for a commit sha, words of a commit message, or a CVE with "
        "a service name; the log is filtered by service and environment (newest first), or "
        "by commit. Pull request numbers are made unique per repository across histories."
    )
    section.notes.append(
        "Where the time goes: suspects reads its deployments' chains in bulk (the earlier "
        "deployments of every service and place in one statement, the pushes every "
        "deployment carries in another, starts and approvals only for the deployments it "
        "shows, builds, tests and scans for the first three rollback candidates of each); "
        "in process, over this benchmark's 60 asks alternated twice with the code before "
        "(23:10 UTC), it takes 0.63x the CPU on SQLite (p95 23 ms an ask), 0.64x in the "
        "process and 0.74x in the server on PostgreSQL (p95 23 ms), with the same answers. "
        "PostgreSQL's GIN index reads every match of a word from the table (a page each) "
        "before a range applies, so search reads the newest entries in index order first "
        "and goes on that way while that costs less than the index: over this benchmark's "
        "60 searches in process, each alternated with the code before (23:02 UTC), p50 "
        "10.2 -> 6.4 ms and p95 219 -> 33 ms, the same results (`WEB-31 new checkout`, in "
        "~49,000 entries: ~290 -> ~12-16 ms; a title in ~12,000 entries: ~100 -> ~35-50 "
        "ms). The results' entries are then read in one statement and their refs in "
        "another (one entry, tile and refs read per result before: 10.4 ms of CPU per "
        "50-result search on the SQLite history against 25.6 ms, same answers)."
    )
    section.notes.append(
        "PostgreSQL is asked on a row-for-row copy of the SQLite store (COPY into a "
        "database of its own), since appending the history there again takes far longer."
    )
    return section


def main() -> None:
    """Run this benchmark alone."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000, help="size of the history")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true", help="ask only PostgreSQL")
    parser.add_argument(
        "--keep-postgres",
        metavar="NAME",
        help="copy the store into database NAME once and reuse it in later runs",
    )
    parser.add_argument(
        "--only",
        choices=QUESTIONS,
        help="ask only this question; the figures are printed, RESULTS.md is left as it is",
    )
    args = parser.parse_args()
    config = BenchConfig(entries=args.events)
    if args.no_postgres:
        config = BenchConfig(entries=args.events, postgres_url=None)
    options = Options(keep_postgres=args.keep_postgres, only=args.only, sqlite=not args.no_sqlite)
    if args.only or args.no_sqlite:
        console = Console()
        print_section(console, run(config, console, options), machine())
    else:
        run_alone(lambda c, out: run(c, out, options), config)


if __name__ == "__main__":
    main()
