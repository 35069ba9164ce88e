"""Inclusion and consistency proofs on the large log: per-call latency, median and p99.

Each call is timed on its own (``perf_counter_ns``) over 1,000 seeded random
arguments after a short warm-up. The baseline, in the same run, reads the very same
node hashes with plain ``sqlite3``, one indexed point read per node: what the proof's
O(log n) storage reads cost without anything around them.
Target (product requirements): median inclusion proof < 2 ms on a 1,000,000-entry log.
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.progress import Progress
from sqlalchemy import event

from bench.cached_log import ensure_log
from bench.config import BenchConfig, run_alone
from bench.results import (
    Row,
    Section,
    Target,
    median,
    millis,
    percentile,
)
from flightlog.ledger import merkle
from flightlog.service import Flightlog

CALLS = 1000
WARMUP = 50
TARGET_MEDIAN_SECONDS = 0.002
BUDGET_SECONDS = 60.0  # per timed function, warm-up included


def timed_calls(
    args: Sequence[tuple[int, int]],
    call: Callable[[int, int], Any],
    progress: Progress,
    label: str,
) -> list[float]:
    """Seconds taken by ``call(*a)`` for each ``a`` after a warm-up, within a time budget.

    A slow implementation on a big log would otherwise run for hours; the number of calls
    actually timed is reported next to the figures.
    """
    deadline = time.monotonic() + BUDGET_SECONDS
    for a in args[:WARMUP]:
        call(*a)
        if time.monotonic() > deadline - BUDGET_SECONDS / 2:
            break
    task = progress.add_task(label, total=len(args))
    out: list[float] = []
    for a in args:
        started = time.perf_counter_ns()
        call(*a)
        out.append((time.perf_counter_ns() - started) / 1e9)
        progress.advance(task)
        if time.monotonic() > deadline:
            break
    return out


def node_reader(conn: sqlite3.Connection) -> Callable[[Sequence[merkle.NodeID]], int]:
    """Fetch node hashes by id with one indexed point read each; returns how many came."""

    def fetch(ids: Sequence[merkle.NodeID]) -> int:
        found = 0
        for level, idx in dict.fromkeys(ids):
            row = conn.execute(
                "SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?", (level, idx)
            ).fetchone()
            found += row is not None
        return found

    return fetch


def query_plans(service: Flightlog, call: Callable[[], object]) -> list[str]:
    """SQLite's plan of every statement ``call`` sends, as ``detail`` lines (deduplicated)."""
    seen: list[tuple[str, Any]] = []

    def remember(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(service.store.engine, "before_cursor_execute", remember)
    try:
        call()
    finally:
        event.remove(service.store.engine, "before_cursor_execute", remember)
    plans: list[str] = []
    with service.store.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        for statement, parameters in seen:
            for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall():
                # "INDEX n" lines only number the branches of a MULTI-INDEX OR.
                if row[3] not in plans and not re.fullmatch(r"INDEX \d+", row[3]):
                    plans.append(row[3])
    return plans


def _summary(section: Section, what: str, seconds: list[float], note: str = "") -> None:
    section.rows += [
        Row(f"{what}: median", millis(median(seconds)), note),
        Row(
            f"{what}: p99",
            millis(percentile(seconds, 99)),
            f"{len(seconds):,} calls" + ("" if len(seconds) == CALLS else " (time budget reached)"),
        ),
    ]


def run(config: BenchConfig, console: Console) -> Section:
    """Measure proof latency on the cached log."""
    log = ensure_log(config.entries, config.data_dir, console)
    rng = random.Random(config.seed)
    section = Section(
        "proof",
        f"Proofs on a {log.entries:,}-entry SQLite log",
        {"entries": f"{log.entries:,}", "calls": f"{CALLS:,}", "seed": str(config.seed)},
    )
    with Flightlog.open(log.settings()) as service:
        size = service.tree_size()
        inclusion_args = [(rng.randrange(size), size) for _ in range(CALLS)]
        consistency_args = [(rng.randrange(1, size), size) for _ in range(CALLS)]

        # Correctness first: a figure for a wrong proof would be meaningless.
        sample = service.inclusion_proof(inclusion_args[0][0], size)
        merkle.verify_inclusion(
            sample.index, size, sample.leaf_hash, list(sample.proof), sample.root
        )
        plans = query_plans(service, lambda: service.inclusion_proof(inclusion_args[0][0], size))
        conn = sqlite3.connect(f"file:{log.path}?mode=ro", uri=True)
        fetch = node_reader(conn)

        def inclusion_nodes(index: int, tree: int) -> int:
            plan, root = merkle.inclusion_plan(index, tree), merkle.root_plan(tree)
            return fetch(plan.ids + root.ids + ((0, index),))

        def consistency_nodes(first: int, second: int) -> int:
            plan = merkle.consistency_plan(first, second)
            ids = plan.ids + merkle.root_plan(first).ids + merkle.root_plan(second).ids
            return fetch(ids)

        with Progress(console=console, transient=True) as progress:
            incl = timed_calls(inclusion_args, service.inclusion_proof, progress, "inclusion")
            incl_base = timed_calls(inclusion_args, inclusion_nodes, progress, "inclusion base")
            cons = timed_calls(consistency_args, service.consistency_proof, progress, "consist.")
            cons_base = timed_calls(consistency_args, consistency_nodes, progress, "cons. base")
        conn.close()

    _summary(section, "inclusion_proof(i, size)", incl)
    _summary(section, "baseline: sqlite3 point reads of the same nodes", incl_base)
    section.rows.append(
        Row(
            "inclusion: ratio median proof / median baseline",
            f"{median(incl) / median(incl_base):.1f} x",
            "cost of the service around its storage reads",
        )
    )
    _summary(section, "consistency_proof(m, size)", cons)
    _summary(section, "baseline: sqlite3 point reads of the same nodes", cons_base)
    section.rows.append(
        Row(
            "consistency: ratio median proof / median baseline",
            f"{median(cons) / median(cons_base):.1f} x",
            "",
        )
    )
    section.targets.append(
        Target(
            "median inclusion proof < 2 ms",
            millis(median(incl)),
            median(incl) < TARGET_MEDIAN_SECONDS,
        )
    )
    scans = [p for p in plans if p.startswith("SCAN") and "CONSTANT ROWS" not in p]
    section.notes.append(
        "SQLite query plan of the statements one inclusion_proof sends: "
        + "; ".join(f"`{p}`" for p in plans)
        + (
            f" -- full table scans: {', '.join(scans)}, so each proof reads the whole table"
            if scans
            else " (no full table scan)"
        )
    )
    section.notes.append(
        "The sample proof was checked with flightlog.ledger.merkle.verify_inclusion before timing."
    )
    return section


def main(argv: Sequence[str] | None = None) -> None:
    """Run only this benchmark (``python -m bench.proof``)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=BenchConfig.entries)
    args = parser.parse_args(argv)
    config = BenchConfig(entries=args.entries)
    run_alone(run, config)


if __name__ == "__main__":
    main()
