"""Answer times of trace, suspects and search beside a filtered log, on a demo-history store.

A store is filled with repeated demo histories (webhook deliveries and pipeline steps,
81 events each), then each question is asked repeatedly of the local service in this
process; figures are p95 milliseconds, each beside the filtered ``log`` measured in the
same run as its baseline. Issue targets (on 1,000,000 events, through the API): trace
< 100 ms p95, suspects and search < 200 ms p95, filtered log < 50 ms p95.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.config import BenchConfig, run_alone
from bench.projections import _postgres_db
from bench.results import Row, Section, Target, percentile
from flightlog.api import EventFilter
from flightlog.config import Settings
from flightlog.demo import demo_history
from flightlog.service import Flightlog

ASKS = 30
DAYS_PER_HISTORY = 9


def fill(fl: Flightlog, histories: int) -> None:
    """Record ``histories`` demo histories, one after the other in time."""
    for i in range(histories):
        start = datetime(2025, 1, 1, 9, tzinfo=UTC) + timedelta(days=DAYS_PER_HISTORY * i)
        events = [e for _, batch in demo_history(start, run=f"h{i}") for e in batch]
        fl.record(
            fl.parse_and_validate("\n".join(json.dumps(e) for e in events).encode(), name="h")
        )


def _p95(ask: Callable[[], Any]) -> float:
    ask()
    times = []
    for _ in range(ASKS):
        started = time.perf_counter()
        ask()
        times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 95)


def measure(fl: Flightlog, histories: int) -> dict[str, float]:
    """p95 milliseconds of each question on the filled store."""
    last = datetime(2025, 1, 1, 9, tzinfo=UTC) + timedelta(days=DAYS_PER_HISTORY * (histories - 1))
    incident = last.replace(hour=0, minute=12) + timedelta(days=7)
    return {
        "log": _p95(
            lambda: fl.log(EventFilter(service="payments", environment="production"), limit=20)
        ),
        "trace": _p95(lambda: fl.trace("production/payments")),
        "suspects": _p95(lambda: fl.suspects("production", at=incident, window_seconds=2 * 86400)),
        "search": _p95(lambda: fl.search("CVE-2026-4242", limit=20)),
    }


def run(config: BenchConfig, console: Console) -> Section:
    """Measure and return the section."""
    histories = max(1, config.append_events // 81)
    section = Section(
        "questions",
        "Question answer times (in-process service)",
        {"events": f"{histories * 81:,} ({histories} demo histories)", "asks": str(ASKS)},
    )
    targets = {"trace": 100.0, "suspects": 200.0, "search": 200.0, "log": 50.0}
    backends = ["sqlite"] + (["postgresql"] if config.postgres_url else [])
    config.data_dir.mkdir(parents=True, exist_ok=True)
    for backend in backends:
        with tempfile.TemporaryDirectory(dir=config.data_dir) as tmp:
            home = Path(tmp) / "home"
            if backend == "sqlite":
                figures = _on(f"sqlite:///{tmp}/q.db", home, histories)
            else:
                assert config.postgres_url is not None
                with _postgres_db(config.postgres_url) as url:
                    figures = _on(url, home, histories)
        console.print(f"{backend}: {figures}")
        for name, ms in figures.items():
            note = "baseline" if name == "log" else f"{ms / figures['log']:.1f}x the filtered log"
            section.rows.append(Row(f"{backend}: {name} p95", f"{ms:.1f} ms", note))
            section.targets.append(
                Target(
                    f"{backend}: {name} < {targets[name]:.0f} ms p95 (at {histories * 81:,} events, not 1M)",
                    f"{ms:.1f} ms",
                    ms < targets[name],
                )
            )
    section.notes.append(
        "Asked of the service in-process, not through HTTP; far below the issue's 1M events."
    )
    return section


def _on(url: str, home: Path, histories: int) -> dict[str, float]:
    fl = Flightlog.open(Settings(database_url=url, home=home, origin="bench.example/log"))
    try:
        fill(fl, histories)
        return measure(fl, histories)
    finally:
        fl.close()


def main() -> None:
    """Run this benchmark alone."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    run_alone(run, BenchConfig(append_events=args.events))


if __name__ == "__main__":
    main()
