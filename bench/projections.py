"""Appending with the lineage projection versus without it, side by side.

Each round appends the same events — demo histories (webhook deliveries and pipeline
steps: changes, commits, builds, tests, scans, approvals, deployments, incidents), 1,000
per transaction — to fresh stores four ways, in rotating order: with the lineage
projection registered (the default), with none, with a projection that only writes the
very same rows computed beforehand, and with one writing those rows but no search
documents. The third is the floor of any projection that keeps these tables and this
search index: what remains above it is the pure half (rows and search text from each
event); the fourth splits that floor between the tables and the search index. The ratio is the median of each round's own
ratio. Target (issue): rate with projections >= 0.8 x the rate without. Beside it: the
cost per event (wall and this process's CPU), the two pure halves timed alone, and a
cProfile of appending with it on SQLite.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import sqlalchemy as sa
from rich.console import Console
from sqlalchemy.engine import make_url

from bench.config import BenchConfig, run_alone
from bench.events import prepare_known_valid
from bench.profiling import profile_rows
from bench.results import Row, Section, Target, median, rate
from flightlog.config import Settings
from flightlog.demo import demo_history
from flightlog.lineage.projection import TABLES, project_event, search_text
from flightlog.service import Flightlog, PreparedEvent
from flightlog.store.ledger import Appended
from flightlog.store.lineage import Rows, write_rows

BATCH = 1000
TARGET_RATIO = 0.8


def workload(count: int) -> list[list[PreparedEvent]]:
    """About ``count`` events of repeated demo histories, prepared, in batches of BATCH."""
    events: list[dict] = []  # type: ignore[type-arg]
    n = 0
    while len(events) < count:
        for _, batch in demo_history(datetime(2026, 1, 1, tzinfo=UTC), run=f"bench{n}"):
            events.extend(batch)
        n += 1
    events = events[:count]
    return [
        prepare_known_valid(events[i : i + BATCH], name=f"b{i}")
        for i in range(0, len(events), BATCH)
    ]


@contextlib.contextmanager
def _postgres_db(url: str) -> Iterator[str]:
    name = f"bench_proj_{uuid.uuid4().hex[:8]}"
    admin = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


# The three ways a round appends the workload.
# The ways a round appends the workload.
WITH, WITHOUT, ROWS_ONLY, TABLES_ONLY = "with", "without", "rows only", "tables only"
VARIANTS = (WITH, WITHOUT, ROWS_ONLY, TABLES_ONLY)


@dataclass(frozen=True)
class Timing:
    """Wall-clock and this process's CPU seconds of one timed run."""

    wall: float
    cpu: float


def precomputed_rows(work: list[list[PreparedEvent]]) -> dict[int, Rows]:
    """The lineage rows of each batch, keyed by the index of its first event in a fresh store."""
    out: dict[int, Rows] = {}
    index = 0
    for batch in work:
        tables: dict[str, list[tuple[object, ...]]] = {t: [] for t in TABLES}
        docs = []
        for offset, ev in enumerate(batch):
            for table, values in project_event(
                ev.event, ev.refs, index=index + offset, time_utc=ev.time_utc
            ):
                tables[table].append(values)
            docs.append((index + offset, search_text(ev.event, ev.refs)))
        out[index] = (tables, docs)
        index += len(batch)
    return out


def _rows_only(
    rows: dict[int, Rows], *, search: bool
) -> Callable[[sa.Connection, Sequence[Appended]], None]:
    """A projection writing the rows computed beforehand for the batch it is given (the
    search documents only when ``search``)."""

    def project(conn: sa.Connection, appended: Sequence[Appended]) -> None:
        batch = rows[appended[0].index]
        if len(batch[1]) != len(appended):
            raise AssertionError("the workload's events were not appended in order, once")
        write_rows(conn, batch if search else (batch[0], []))

    return project


def timed_append(
    url: str, home: Path, work: list[list[PreparedEvent]], variant: str, rows: dict[int, Rows]
) -> Timing:
    """Append ``work`` to a fresh store at ``url`` one way (a :data:`VARIANTS` name), timed."""
    fl = Flightlog.open(Settings(database_url=url, home=home, origin="bench.example/log"))
    try:
        if variant != WITH:
            fl.store.projections.clear()
        if variant in (ROWS_ONLY, TABLES_ONLY):
            fl.store.projections.append(_rows_only(rows, search=variant == ROWS_ONLY))
        # Every variant starts with no collection owed: building the workload allocated
        # enough that the first full collection would otherwise land in whichever run
        # happens to cross the threshold.
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        for batch in work:
            fl.record(batch)
        return Timing(time.perf_counter() - wall, time.process_time() - cpu)
    finally:
        fl.close()


def _round(
    backend: str,
    config: BenchConfig,
    work: list[list[PreparedEvent]],
    rows: dict[int, Rows],
    order: int,
) -> dict[str, Timing]:
    timings: dict[str, Timing] = {}
    shift = order % len(VARIANTS)
    for variant in VARIANTS[shift:] + VARIANTS[:shift]:
        with tempfile.TemporaryDirectory(dir=config.data_dir) as tmp:
            home = Path(tmp) / "home"
            if backend == "sqlite":
                timings[variant] = timed_append(f"sqlite:///{tmp}/p.db", home, work, variant, rows)
            else:
                assert config.postgres_url is not None
                with _postgres_db(config.postgres_url) as url:
                    timings[variant] = timed_append(url, home, work, variant, rows)
    return timings


def run(config: BenchConfig, console: Console) -> Section:
    """Measure and return the section."""
    count = min(config.append_events, 20_000)
    work = workload(count)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    section = Section(
        "projections",
        "Append with the lineage projection vs without",
        {
            "events": f"{count:,} (demo histories)",
            "batch": str(BATCH),
            "rounds": str(config.repeat),
        },
    )
    backends = ["sqlite"] + (["postgresql"] if config.postgres_url else [])
    rows = precomputed_rows(work)
    # One batch through a throwaway store first: imports and caches are not the projection's.
    with tempfile.TemporaryDirectory(dir=config.data_dir) as tmp:
        timed_append(f"sqlite:///{tmp}/w.db", Path(tmp) / "home", work[:1], WITH, rows)
    pure_rows, pure = _pure_costs(work)
    for backend in backends:
        runs: dict[str, list[Timing]] = {v: [] for v in VARIANTS}
        for r in range(config.repeat):
            for variant, timing in _round(backend, config, work, rows, r).items():
                runs[variant].append(timing)
            console.print(
                f"{backend} round {r + 1}: "
                + ", ".join(f"{v} {count / runs[v][-1].wall:,.0f}/s" for v in VARIANTS)
            )
        _backend_rows(section, backend, runs, count, pure)
    section.rows.extend(pure_rows)
    section.notes.append(
        "CPU figures are this process's (Python, SQLite inside it, the PostgreSQL client); "
        "the PostgreSQL server's own work shows only in the wall time."
    )
    if config.profile:
        with tempfile.TemporaryDirectory(dir=config.data_dir) as tmp:
            fl = Flightlog.open(Settings(database_url=f"sqlite:///{tmp}/p.db", home=Path(tmp)))
            try:
                section.profile = profile_rows(lambda: [fl.record(b) for b in work], top=14)
            finally:
                fl.close()
    return section


def _per_round(
    runs: dict[str, list[Timing]], variant: str, baseline: str, count: int
) -> dict[str, float]:
    """Medians over rounds, each round against its own baseline run: the rate ratio of
    ``variant`` to ``baseline`` by wall and by CPU time, and the µs an event it adds."""
    pairs = list(zip(runs[variant], runs[baseline], strict=True))
    return {
        "wall ratio": median([b.wall / v.wall for v, b in pairs]),
        "cpu ratio": median([b.cpu / v.cpu for v, b in pairs]),
        "wall µs": median([v.wall - b.wall for v, b in pairs]) / count * 1e6,
        "cpu µs": median([v.cpu - b.cpu for v, b in pairs]) / count * 1e6,
    }


def _backend_rows(
    section: Section, backend: str, runs: dict[str, list[Timing]], count: int, pure: float
) -> None:
    """The rows and the target of one database."""
    wall = {v: median([t.wall for t in runs[v]]) / count * 1e6 for v in VARIANTS}
    cpu = {v: median([t.cpu for t in runs[v]]) / count * 1e6 for v in VARIANTS}
    full = _per_round(runs, WITH, WITHOUT, count)
    floor = _per_round(runs, ROWS_ONLY, WITHOUT, count)
    tables = _per_round(runs, TABLES_ONLY, WITHOUT, count)
    search = _per_round(runs, ROWS_ONLY, TABLES_ONLY, count)
    ratio = full["wall ratio"]
    section.rows += [
        Row(f"{backend}: append with projections", rate(1e6 / wall[WITH])),
        Row(f"{backend}: append without projections", rate(1e6 / wall[WITHOUT])),
        Row(
            f"{backend}: ratio with / without",
            f"{ratio:.2f}x",
            f"median of per-round ratios; by CPU time {full['cpu ratio']:.2f}x",
        ),
        Row(
            f"{backend}: ratio writing the same rows computed beforehand / without",
            f"{floor['wall ratio']:.2f}x",
            f"by CPU time {floor['cpu ratio']:.2f}x: the ceiling of the ratio for these "
            "tables and this search index, whatever the pure half costs",
        ),
        Row(
            f"{backend}: ratio writing those rows but no search documents / without",
            f"{tables['wall ratio']:.2f}x",
            f"by CPU time {tables['cpu ratio']:.2f}x",
        ),
        Row(
            f"{backend}: projection cost per event, wall",
            f"{full['wall µs']:.1f} µs",
            f"beside {wall[WITHOUT]:.1f} µs without it; writing the rows alone "
            f"{floor['wall µs']:.1f} µs, of which the search documents "
            f"{search['wall µs']:.1f} µs (medians of per-round differences)",
        ),
        Row(
            f"{backend}: projection cost per event, CPU",
            f"{full['cpu µs']:.1f} µs",
            f"beside {cpu[WITHOUT]:.1f} µs without it; writing the rows alone "
            f"{floor['cpu µs']:.1f} µs, of which the search documents {search['cpu µs']:.1f} "
            f"µs; the pure halves alone {pure:.1f} µs",
        ),
    ]
    section.targets.append(
        Target(
            f"{backend}: append with projections >= {TARGET_RATIO} x without",
            f"{ratio:.2f}x",
            ratio >= TARGET_RATIO,
        )
    )


def _pure_costs(work: list[list[PreparedEvent]]) -> tuple[list[Row], float]:
    """What the two pure halves of the projection cost per event (CPU, best of 3), alone."""
    events = [e for batch in work for e in batch]
    rows, total = [], 0.0
    for name, one in (
        ("project_event", lambda e: project_event(e.event, e.refs, index=0, time_utc=e.time_utc)),
        ("search_text", lambda e: search_text(e.event, e.refs)),
    ):
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            for event in events:
                one(event)
            best = min(best, time.process_time() - started)
        per = best / len(events) * 1e6
        total += per
        rows.append(Row(f"{name} alone", f"{per:.1f} µs per event", "pure, CPU, best of 3"))
    return rows, total


def main() -> None:
    """Run this benchmark alone."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    config = BenchConfig(append_events=args.events, repeat=args.repeat)
    if args.no_postgres:
        config = BenchConfig(append_events=args.events, repeat=args.repeat, postgres_url=None)
    run_alone(run, config)


if __name__ == "__main__":
    main()
