"""Appending with the lineage projection versus without it, side by side.

Each round appends the same events — demo histories (webhook deliveries and pipeline
steps: changes, commits, builds, tests, scans, approvals, deployments, incidents), 1,000
per transaction — to two fresh stores, one with the lineage projection registered (the
default) and one with none, in rotating order. The ratio is the median of each round's
own ratio. Target (issue): rate with projections >= 0.8 x the rate without. Beside it:
the cost per event, the two pure halves of the projection timed alone, and a cProfile
of appending with it on SQLite.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from rich.console import Console
from sqlalchemy.engine import make_url

from bench.config import BenchConfig, run_alone
from bench.events import prepare_known_valid
from bench.profiling import profile_rows
from bench.results import Row, Section, Target, median, rate
from flightlog.config import Settings
from flightlog.demo import demo_history
from flightlog.lineage.projection import project_event, search_text
from flightlog.service import Flightlog, PreparedEvent

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


def _timed(url: str, home: Path, work: list[list[PreparedEvent]], *, projections: bool) -> float:
    fl = Flightlog.open(Settings(database_url=url, home=home, origin="bench.example/log"))
    try:
        if not projections:
            fl.store.projections.clear()
        started = time.perf_counter()
        for batch in work:
            fl.record(batch)
        return time.perf_counter() - started
    finally:
        fl.close()


def _round(
    backend: str, config: BenchConfig, work: list[list[PreparedEvent]], order: int
) -> tuple[float, float]:
    seconds: dict[bool, float] = {}
    for projections in (True, False) if order % 2 == 0 else (False, True):
        with tempfile.TemporaryDirectory(dir=config.data_dir) as tmp:
            home = Path(tmp) / "home"
            if backend == "sqlite":
                seconds[projections] = _timed(
                    f"sqlite:///{tmp}/p.db", home, work, projections=projections
                )
            else:
                assert config.postgres_url is not None
                with _postgres_db(config.postgres_url) as url:
                    seconds[projections] = _timed(url, home, work, projections=projections)
    return seconds[True], seconds[False]


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
    # One batch through a throwaway store first: imports and caches are not the projection's.
    with tempfile.TemporaryDirectory(dir=config.data_dir) as tmp:
        _timed(f"sqlite:///{tmp}/w.db", Path(tmp) / "home", work[:1], projections=True)
    pure_rows = _pure_costs(work)
    pure = sum(float(r.value.split()[0]) for r in pure_rows)
    for backend in backends:
        with_s, without_s, ratios = [], [], []
        for r in range(config.repeat):
            a, b = _round(backend, config, work, r)
            with_s.append(a)
            without_s.append(b)
            ratios.append(b / a)
            console.print(
                f"{backend} round {r + 1}: with {count / a:,.0f}/s, without {count / b:,.0f}/s"
            )
        ratio = median(ratios)
        section.rows.append(
            Row(f"{backend}: append with projections", rate(count / median(with_s)))
        )
        section.rows.append(
            Row(f"{backend}: append without projections", rate(count / median(without_s)))
        )
        section.rows.append(
            Row(f"{backend}: ratio with / without", f"{ratio:.2f}x", "median of per-round ratios")
        )
        section.targets.append(
            Target(
                f"{backend}: append with projections >= {TARGET_RATIO} x without",
                f"{ratio:.2f}x",
                ratio >= TARGET_RATIO,
            )
        )
        extra = (median(with_s) - median(without_s)) / count * 1e6
        base = median(without_s) / count * 1e6
        section.rows.append(
            Row(
                f"{backend}: projection cost per event",
                f"{extra:.0f} µs",
                f"beside {base:.0f} µs per event without it; the pure halves alone "
                f"cap the ratio at {base / (base + pure):.2f}x",
            )
        )
    section.rows.extend(pure_rows)
    if config.profile:
        with tempfile.TemporaryDirectory(dir=config.data_dir) as tmp:
            fl = Flightlog.open(Settings(database_url=f"sqlite:///{tmp}/p.db", home=Path(tmp)))
            try:
                section.profile = profile_rows(lambda: [fl.record(b) for b in work], top=14)
            finally:
                fl.close()
    return section


def _pure_costs(work: list[list[PreparedEvent]]) -> list[Row]:
    """What the two pure halves of the projection cost per event, timed alone."""
    events = [e for batch in work for e in batch]
    rows = []
    for name, one in (
        ("project_event", lambda e: project_event(e.event, e.refs, index=0, time_utc=e.time_utc)),
        ("search_text", lambda e: search_text(e.event, e.refs)),
    ):
        started = time.perf_counter()
        for event in events:
            one(event)
        per = (time.perf_counter() - started) / len(events) * 1e6
        rows.append(Row(f"{name} alone", f"{per:.1f} µs per event", "pure, no database"))
    return rows


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
