"""Batch append: Flightlog.record versus a bare executemany of the same rows.

Each round appends the same events (1,000 per transaction) to a fresh database three
ways, in rotating order: a bare ``executemany`` into a table shaped like ``entries``
(same columns, primary key, unique (event_id, source), indexes on type and time_utc, same
pragmas), ``Flightlog.record`` of events prepared beforehand, and ``Flightlog.record``
timed together with ``parse_and_validate`` of the JSON Lines bytes. A fourth, reference
variant executemany's every row an append writes (entries, tiles, refs; computed
beforehand), which separates the cost of the data written from Flightlog's own work.
Figures are medians over rounds; the ratio is the median of each round's own ratio.
Target (product requirements): Flightlog rate >= 0.5 x the bare rate, on SQLite.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.engine import make_url

from bench import events as gen
from bench.config import BenchConfig, run_alone
from bench.profiling import profile_rows
from bench.results import Row, Section, Target, median, rate
from flightlog.config import Settings
from flightlog.ledger import merkle
from flightlog.ledger.tiles import tile_appends
from flightlog.service import Flightlog, PreparedEvent
from flightlog.store.tiles import grow_tiles
from flightlog.timestamps import utc_now

BATCH = 1000
TARGET_RATIO = 0.5

# The shape of the store's ``entries`` table (flightlog/store/schema.py), built by hand.
_SQLITE_DDL = (
    """CREATE TABLE entries (
        idx BIGINT NOT NULL PRIMARY KEY,
        event_id TEXT NOT NULL,
        source TEXT NOT NULL,
        type TEXT NOT NULL,
        time TEXT NOT NULL,
        time_utc TEXT NOT NULL,
        received_at TEXT NOT NULL,
        payload_sha256 VARCHAR(64) NOT NULL,
        payload BLOB,
        UNIQUE (event_id, source))""",
    "CREATE INDEX ix_entries_type ON entries (type)",
    "CREATE INDEX ix_entries_time_utc ON entries (time_utc)",
)
_PG_DDL = tuple(d.replace("BLOB", "BYTEA") for d in _SQLITE_DDL)
# Every table an append writes, for the "all rows" reference: entries plus the tiles
# and refs, with the store's keys and indexes.
_SQLITE_ALL_DDL = (
    *_SQLITE_DDL,
    """CREATE TABLE tiles (
        level SMALLINT NOT NULL, idx BIGINT NOT NULL, hashes BLOB NOT NULL,
        PRIMARY KEY (level, idx))""",
    """CREATE TABLE refs (
        kind VARCHAR(32) NOT NULL, value TEXT NOT NULL, idx BIGINT NOT NULL,
        PRIMARY KEY (kind, value, idx))""",
    "CREATE INDEX ix_refs_idx ON refs (idx)",
)
_INSERT_SQLITE = "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_PG = "INSERT INTO entries VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"

Row9 = tuple[int, str, str, str, str, str, str, str, bytes]


@dataclass(frozen=True)
class Workload:
    """The same events three ways: JSON Lines bytes, prepared events, and bare rows."""

    jsonl: list[bytes]
    prepared: list[list[PreparedEvent]]

    @property
    def count(self) -> int:
        """How many events one round appends."""
        return sum(len(b) for b in self.prepared)


def build_workload(total: int) -> Workload:
    """Generate ``total`` distinct events in batches of :data:`BATCH`."""
    raw, prepared = [], []
    for start in range(0, total, BATCH):
        batch = gen.events(start, min(BATCH, total - start), run="append")
        data = gen.jsonl(batch)
        raw.append(data)
        prepared.append(gen.prepare_known_valid(batch, name=f"batch-{start}"))
    return Workload(raw, prepared)


def bare_rows(batch: Sequence[PreparedEvent], first_index: int) -> list[Row9]:
    """The rows Flightlog would write to ``entries`` for ``batch``, received now."""
    received = utc_now()
    return [
        (
            first_index + i,
            ev.id,
            ev.source,
            ev.type,
            ev.time,
            ev.time_utc,
            received,
            ev.payload_sha256,
            ev.canonical,
        )
        for i, ev in enumerate(batch)
    ]


# -- the timed runs -------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Wall-clock and process CPU seconds of one timed run."""

    wall: float
    cpu: float


class _Stopwatch:
    """Started on creation; :meth:`stop` gives the wall and CPU time since."""

    def __init__(self) -> None:
        # Every variant starts with no collection owed: preparing the workload allocated
        # enough that the first full collection would otherwise land in whichever run
        # happens to cross the threshold.
        gc.collect()
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def stop(self) -> Timing:
        return Timing(time.perf_counter() - self._wall, time.process_time() - self._cpu)


def run_bare_sqlite(path: Path, work: Workload) -> Timing:
    """Seconds to insert every batch with sqlite3 executemany (WAL, synchronous=FULL)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        for ddl in _SQLITE_DDL:
            conn.execute(ddl)
        index = 0
        watch = _Stopwatch()
        for batch in work.prepared:
            rows = bare_rows(batch, index)
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_INSERT_SQLITE, rows)
            conn.execute("COMMIT")
            index += len(rows)
        return watch.stop()
    finally:
        conn.close()


def all_rows(
    work: Workload,
) -> list[tuple[list[Row9], list[tuple[int, int, bytes]], list[tuple[str, str, int]]]]:
    """Every row an append of ``work`` writes (entries, grown tiles, refs), per batch."""
    tree = merkle.CompactRange()
    edge: dict[tuple[int, int], bytes] = {}
    out = []
    index = 0
    for batch in work.prepared:
        rows = bare_rows(batch, index)
        nodes = [n for row in rows for n in tree.append(merkle.leaf_hash(row[7].encode()))]
        tile_rows, edge = grow_tiles(edge, tile_appends(nodes))
        refs = [(k, v, index + i) for i, ev in enumerate(batch) for k, v in ev.refs]
        out.append((rows, tile_rows, refs))
        index += len(rows)
    return out


def run_bare_sqlite_all(path: Path, work: Workload) -> Timing:
    """Seconds to executemany every row Flightlog writes, the rows computed beforehand."""
    batches = all_rows(work)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        for ddl in _SQLITE_ALL_DDL:
            conn.execute(ddl)
        watch = _Stopwatch()
        for rows, nodes, refs in batches:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_INSERT_SQLITE, rows)
            conn.executemany(
                "INSERT INTO tiles VALUES (?, ?, ?) ON CONFLICT (level, idx) "
                "DO UPDATE SET hashes = excluded.hashes",
                nodes,
            )
            conn.executemany("INSERT INTO refs VALUES (?, ?, ?)", refs)
            conn.execute("COMMIT")
        return watch.stop()
    finally:
        conn.close()


def run_bare_postgres(dsn: str, work: Workload) -> Timing:
    """Seconds to insert every batch with psycopg executemany, one transaction per batch."""
    with psycopg.connect(dsn) as conn:
        for ddl in _PG_DDL:
            conn.execute(ddl)
        conn.commit()
        index = 0
        watch = _Stopwatch()
        for batch in work.prepared:
            rows = bare_rows(batch, index)
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(_INSERT_PG, rows)
            index += len(rows)
        return watch.stop()


def run_flightlog(
    settings: Settings, work: Workload, *, parse: bool, projections: bool = True
) -> Timing:
    """Seconds to record every batch (``parse``: parse_and_validate inside the timing).

    ``projections=False`` unregisters the store's projections (lineage) first, to show
    what they cost.
    """
    with Flightlog.open(settings) as service:
        if not projections:
            service.store.projections.clear()
        watch = _Stopwatch()
        if parse:
            for i, data in enumerate(work.jsonl):
                service.record(service.parse_and_validate(data, name=f"batch-{i}"))
        else:
            for batch in work.prepared:
                service.record(batch)
        return watch.stop()


# -- databases per round ----------------------------------------------------------------


def _sqlite_settings(path: Path, home: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{path}", home=home)


def fresh_file(directory: Path, name: str) -> Path:
    """A path in ``directory`` with no database (nor WAL files) behind it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def libpq_dsn(url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def with_search_path(url: str, schema: str) -> str:
    """``url`` with every connection's search_path set to ``schema``."""
    return (
        make_url(url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


@contextlib.contextmanager
def pg_schema(url: str, label: str) -> Iterator[str]:
    """Create a uniquely named schema, yield the URL that uses it, and drop it afterwards."""
    schema = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    dsn = libpq_dsn(url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield with_search_path(url, schema)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def postgres_reachable(url: str) -> str | None:
    """None when ``url`` answers, else why not."""
    try:
        with psycopg.connect(libpq_dsn(url), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None


# -- rounds -----------------------------------------------------------------------------

Variant = Callable[[int], Timing]


def _rounds(
    variants: dict[str, Variant], repeat: int, progress: Progress, label: str
) -> dict[str, list[Timing]]:
    names = list(variants)
    timings: dict[str, list[Timing]] = {n: [] for n in names}
    task = progress.add_task(label, total=repeat * len(names))
    for r in range(repeat):
        # Rotating the order spreads slow moments of a noisy machine over every variant.
        for name in names[r % len(names) :] + names[: r % len(names)]:
            timings[name].append(variants[name](r))
            progress.advance(task)
    return timings


def _walls(timings: dict[str, list[Timing]]) -> dict[str, list[float]]:
    return {name: [t.wall for t in runs] for name, runs in timings.items()}


def _cpu_rows(section: Section, timings: dict[str, list[Timing]], count: int) -> None:
    """CPU per event of each SQLite variant: steadier than rates when cores are shared."""
    cpu = {name: median([t.cpu for t in runs]) / count for name, runs in timings.items()}
    for name, label in (
        ("bare", "bare sqlite3 executemany"),
        ("all rows", "bare executemany of every row an append writes"),
        ("prepared", "Flightlog.record (pre-validated)"),
        ("no projections", "Flightlog.record without the lineage projection"),
    ):
        section.rows.append(
            Row(
                f"SQLite CPU per event: {label}",
                f"{cpu[name] * 1e6:,.1f} µs",
                f"{cpu['bare'] / cpu[name]:.2f} x bare's CPU rate",
            )
        )


def _figures(
    section: Section, store: str, seconds: dict[str, list[float]], count: int
) -> tuple[float, float, float]:
    bare = [count / s for s in seconds["bare"]]
    pre = [count / s for s in seconds["prepared"]]
    parsed = [count / s for s in seconds["parsed"]]
    ratio_pre = median([p / b for p, b in zip(pre, bare, strict=True)])
    ratio_parsed = median([p / b for p, b in zip(parsed, bare, strict=True)])
    driver = "sqlite3" if store == "SQLite" else "psycopg"
    spread = "min-max {:,.0f}-{:,.0f}"
    section.rows += [
        Row(f"{store}: bare {driver} executemany", rate(median(bare)), spread.format(*_mm(bare))),
        Row(
            f"{store}: Flightlog.record (pre-validated)",
            rate(median(pre)),
            spread.format(*_mm(pre)),
        ),
        Row(
            f"{store}: Flightlog parse_and_validate + record",
            rate(median(parsed)),
            spread.format(*_mm(parsed)),
        ),
        Row(f"{store}: ratio record / bare", f"{ratio_pre:.2f} x", "median of per-round ratios"),
        Row(
            f"{store}: ratio parse+record / bare",
            f"{ratio_parsed:.2f} x",
            "median of per-round ratios",
        ),
    ]
    return median(pre), ratio_pre, ratio_parsed


def _mm(values: Sequence[float]) -> tuple[float, float]:
    return min(values), max(values)


def _sqlite_rows(section: Section, seconds: dict[str, list[float]], count: int) -> None:
    """The SQLite rows beyond the common ones: without projections, every row, ratios."""
    everything = [count / s for s in seconds["all rows"]]
    pre = [count / s for s in seconds["prepared"]]
    unprojected = [count / s for s in seconds["no projections"]]
    section.rows += [
        Row(
            "SQLite: Flightlog.record without the lineage projection",
            rate(median(unprojected)),
            f"{median([u * b for u, b in zip(unprojected, seconds['bare'], strict=True)]) / count:.2f} x bare "
            "(median of per-round ratios); the projection is registered on every store",
        ),
        Row(
            "SQLite: bare executemany of every row an append writes",
            rate(median(everything)),
            "entries + tiles + refs, computed beforehand; same keys and indexes",
        ),
        Row(
            "SQLite: ratio every-row executemany / bare (ceiling)",
            f"{median([e * s for e, s in zip(everything, seconds['bare'], strict=True)]) / count:.2f} x",
            "the best record / bare ratio possible while writing these rows",
        ),
        Row(
            "SQLite: ratio record / every-row executemany",
            f"{median([p / e for p, e in zip(pre, everything, strict=True)]):.2f} x",
            "what Flightlog's own work costs beyond writing its rows",
        ),
    ]


def run(config: BenchConfig, console: Console) -> Section:
    """Measure batch appends on SQLite (and PostgreSQL when reachable)."""
    total = max(BATCH, config.append_events - config.append_events % BATCH)
    section = Section(
        "append",
        "Batch append (1,000 events per transaction)",
        {"events per round": f"{total:,}", "rounds": str(config.repeat), "batch": f"{BATCH:,}"},
    )
    with console.status("generating and preparing events"):
        work = build_workload(total)
    scratch = config.data_dir / "append"
    home = scratch / "home"
    with Flightlog.open(_sqlite_settings(fresh_file(scratch, "check.db"), home)) as service:
        gen.check_prepared(service, gen.events(0, 50, run="append"))

    def sqlite_variant(kind: str) -> Variant:
        def go(r: int) -> Timing:
            path = fresh_file(scratch, f"{kind}-{r}.db")
            try:
                if kind == "bare":
                    return run_bare_sqlite(path, work)
                if kind == "all rows":
                    return run_bare_sqlite_all(path, work)
                return run_flightlog(
                    _sqlite_settings(path, home),
                    work,
                    parse=kind == "parsed",
                    projections=kind != "no projections",
                )
            finally:
                fresh_file(scratch, path.name)

        return go

    with Progress(console=console, transient=True) as progress:
        sqlite_timings = _rounds(
            {
                k: sqlite_variant(k)
                for k in ("bare", "all rows", "prepared", "no projections", "parsed")
            },
            config.repeat,
            progress,
            "SQLite rounds",
        )
    sqlite_seconds = _walls(sqlite_timings)
    _, ratio, ratio_parsed = _figures(section, "SQLite", sqlite_seconds, work.count)
    _sqlite_rows(section, sqlite_seconds, work.count)
    _cpu_rows(section, sqlite_timings, work.count)
    section.targets.append(
        Target(
            "SQLite: Flightlog.record >= 0.5 x bare executemany",
            f"{ratio:.2f} x",
            ratio >= TARGET_RATIO,
        )
    )
    section.targets.append(
        Target(
            "SQLite: parse_and_validate + record >= 0.5 x bare executemany",
            f"{ratio_parsed:.2f} x",
            ratio_parsed >= TARGET_RATIO,
        )
    )

    pg_problem = postgres_reachable(config.postgres_url) if config.postgres_url else "skipped"
    if config.postgres_url is not None and pg_problem is None:
        url = config.postgres_url

        def pg_variant(kind: str) -> Variant:
            def go(_r: int) -> Timing:
                with pg_schema(url, kind) as scoped:
                    if kind == "bare":
                        return run_bare_postgres(libpq_dsn(scoped), work)
                    settings = Settings(database_url=scoped, home=home)
                    return run_flightlog(settings, work, parse=kind == "parsed")

            return go

        with Progress(console=console, transient=True) as progress:
            pg_timings = _rounds(
                {k: pg_variant(k) for k in ("bare", "prepared", "parsed")},
                config.repeat,
                progress,
                "PostgreSQL rounds",
            )
        _figures(section, "PostgreSQL", _walls(pg_timings), work.count)
        section.notes.append("PostgreSQL figures are reported only (no target).")
    else:
        section.notes.append(f"PostgreSQL not measured: {pg_problem}.")

    if config.profile:
        path = fresh_file(scratch, "profile.db")
        with Flightlog.open(_sqlite_settings(path, home)) as service:
            sample = work.prepared[: min(20, len(work.prepared))]

            def record_sample() -> None:
                for batch in sample:
                    service.record(batch)

            section.profile = profile_rows(record_sample, top=12)
        fresh_file(scratch, path.name)
        section.notes.append(
            f"Profile: Flightlog.record of {len(sample)} pre-validated batches on SQLite."
        )
    section.notes.append(
        "Flightlog also writes the tiles (about 5 tile rows per 1,000-event batch) and the "
        "refs (3 per event here) in the same transaction; the bare baseline writes entries only."
    )
    return section


def main(argv: Sequence[str] | None = None) -> None:
    """Run only this benchmark (``python -m bench.append``)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--append-events", type=int, default=BenchConfig.append_events)
    parser.add_argument("--repeat", type=int, default=BenchConfig.repeat)
    args = parser.parse_args(argv)
    config = BenchConfig(append_events=args.append_events, repeat=args.repeat)
    run_alone(run, config)


if __name__ == "__main__":
    main()
