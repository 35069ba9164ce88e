"""Full verification of a large SQLite log: entries per second and peak memory.

``Flightlog.verify()`` runs in a child process that reports its own peak resident set
(``VmHWM``) so the figure is that of the verifying process alone. The baseline, in the
same run and also in a child, reads every entry row in pages with plain ``sqlite3`` and
checks each payload's SHA-256: the floor any full verification pays. A second reference
reads the rows through the store's own paged iterator. The ceiling rows show what one
and two cores reach doing part or all of verify's per-entry work with nothing around it
(the same chunked read, then the leaf hashes and tree levels, then parsing every payload
and deriving its refs, then the time index and the stored refs compared), each process
taking an equal slice of the log; the last of them, on one process, alternates with the
verify runs. The step rows take that work apart: the CPU time one entry's minimum work
costs, step by step, in one process (timed once a round, medians reported). Since the
machine is shared, CPU time per entry is reported beside every rate. Targets (product requirements): >= 500,000 entries/s and
peak RSS < 200 MB for a 1,000,000-entry log.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from bench.cached_log import CachedLog
    from bench.config import BenchConfig
    from bench.results import Row, Section

# Verification's worker processes are started with "spawn", which imports the parent's
# main module (this one, in the verify child) again: it imports the benchmark machinery
# in the functions that use it, so that a worker holds what verification needs, as under
# the `flightlog` command.

TARGET_RATE = 500_000
TARGET_RSS_MB = 200
PAGE = 5000
PROFILE_ENTRIES = 20_000
VERIFY_BUDGET_SECONDS = 240.0  # stop repeating verification once this much was spent


def vm_hwm_kb() -> int:
    """This process's peak resident set size in KiB (Linux ``VmHWM``)."""
    text = Path("/proc/self/status").read_text(encoding="utf-8")
    found = re.search(r"^VmHWM:\s+(\d+) kB$", text, re.M)
    return int(found.group(1)) if found else 0


def _rss_kb(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return 0
    found = re.search(r"^VmRSS:\s+(\d+) kB$", text, re.M)
    return int(found.group(1)) if found else 0


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for task in tasks:
        try:
            children = (task / "children").read_text(encoding="utf-8").split()
        except OSError:
            continue
        for child in children:
            out.append(int(child))
            out.extend(_descendants(int(child)))
    return out


class TreePeak:
    """Samples the summed RSS of this process and all its descendants; keeps the peak."""

    def __init__(self, interval: float = 0.05) -> None:
        self.peak_kb = 0
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            total = sum(_rss_kb(p) for p in [me, *_descendants(me)])
            self.peak_kb = max(self.peak_kb, total)
            self._stop.wait(self._interval)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# -- what the child processes run ----------------------------------------------------------


def child_read(path: Path) -> dict[str, Any]:
    """Read every entry with sqlite3 in pages and check each payload digest."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    started = time.perf_counter()
    after, count, bad = -1, 0, 0
    while True:
        rows = conn.execute(
            "SELECT idx, payload, payload_sha256 FROM entries WHERE idx > ? ORDER BY idx LIMIT ?",
            (after, PAGE),
        ).fetchall()
        if not rows:
            break
        for _, payload, digest in rows:
            if payload is not None and hashlib.sha256(payload).hexdigest() != digest:
                bad += 1
        count += len(rows)
        after = rows[-1][0]
    seconds = time.perf_counter() - started
    conn.close()
    return {"seconds": seconds, "entries": count, "ok": bad == 0}


CEILING_STAGES = ("read", "leaf", "refs", "check")

_ROWS_SQL = (
    "SELECT idx, event_id, source, type, time, received_at, payload_sha256, payload, "
    "time_utc FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx"
)
_REFS_SQL = "SELECT idx, kind, value FROM refs WHERE idx >= ? AND idx < ? ORDER BY idx"


def child_ceiling(path: Path, stage: str, part: int, parts: int) -> dict[str, Any]:
    """Do ``stage`` (and the stages before it) over slice ``part`` of ``parts`` of the log.

    The cycle collector is off, as it is while verification checks a run of chunks.
    """
    import gc

    from flightlog.events.refs import extract_refs
    from flightlog.ledger.audit import CHUNK, leaf_hashes
    from flightlog.ledger.integrity import parse_payload, ref_rows, times_hold
    from flightlog.ledger.merkle import parent_level

    gc.disable()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    size = conn.execute("SELECT tree_size FROM ledger_state").fetchone()[0]
    chunks = -(-size // CHUNK)
    first, end = chunks * part // parts, chunks * (part + 1) // parts
    started, cpu_started = time.perf_counter(), time.process_time()
    count, bad = 0, 0
    sha256 = hashlib.sha256
    for c in range(first, end):
        rows = conn.execute(_ROWS_SQL, (c * CHUNK, (c + 1) * CHUNK)).fetchall()
        bad += [sha256(r[7]).hexdigest() for r in rows] != [r[6] for r in rows]
        if stage != "read":
            level = leaf_hashes(rows)
            while len(level) > 1:
                level = parent_level(level)
        if stage in ("refs", "check"):
            found = [extract_refs(parse_payload(r[7])) for r in rows]
        if stage == "check":
            bad += not times_hold(rows)
            stored = conn.execute(_REFS_SQL, (c * CHUNK, (c + 1) * CHUNK)).fetchall()
            bad += ref_rows(rows, found) != stored
        count += len(rows)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    conn.close()
    return {"seconds": seconds, "cpu_seconds": cpu, "entries": count, "ok": bad == 0}


STEPS = (
    ("read", "read the entry row (9 columns) with sqlite3"),
    ("digest", "sha256 of the payload, compared with the stored digest"),
    ("leaf", "leaf bytes from the template + leaf hash"),
    ("levels", "tree levels above the leaves (one node hash per entry)"),
    ("time", "time index re-derived and compared"),
    ("parse", "parse the payload (orjson)"),
    ("refs", "derive the refs (extract_refs)"),
    ("stored", "read the stored refs (3 rows per entry here)"),
    ("compare", "compare stored and derived refs"),
)
STEP_CHUNKS = 48  # chunks of 4,096 entries timed per step, spread over the log


def child_steps(path: Path) -> dict[str, Any]:
    """CPU time of each step of one entry's minimum verification work, in one process.

    Each step runs over a whole chunk at a time, as verification does, with the cycle
    collector off; ``time.process_time`` is read between steps, so waiting for the other
    processes on this machine is not counted.
    """
    import gc

    import orjson

    from flightlog.events.refs import extract_refs
    from flightlog.ledger.audit import CHUNK, leaf_hashes
    from flightlog.ledger.integrity import ref_rows, times_hold
    from flightlog.ledger.merkle import parent_level

    gc.disable()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    size = conn.execute("SELECT tree_size FROM ledger_state").fetchone()[0]
    whole = size // CHUNK
    spent = dict.fromkeys((name for name, _ in STEPS), 0.0)
    count, bad = 0, 0
    sha256 = hashlib.sha256
    clock = time.process_time
    for k in range(STEP_CHUNKS):
        lo = k * whole // STEP_CHUNKS * CHUNK
        marks = [clock()]
        rows = conn.execute(_ROWS_SQL, (lo, lo + CHUNK)).fetchall()
        marks.append(clock())
        bad += [sha256(r[7]).hexdigest() for r in rows] != [r[6] for r in rows]
        marks.append(clock())
        level = leaf_hashes(rows)
        marks.append(clock())
        while len(level) > 1:
            level = parent_level(level)
        marks.append(clock())
        bad += not times_hold(rows)
        marks.append(clock())
        docs = [orjson.loads(r[7]) for r in rows]
        marks.append(clock())
        found = [extract_refs(doc) for doc in docs]
        marks.append(clock())
        stored = conn.execute(_REFS_SQL, (lo, lo + CHUNK)).fetchall()
        marks.append(clock())
        bad += ref_rows(rows, found) != stored
        marks.append(clock())
        for (name, _), before, after in zip(STEPS, marks, marks[1:], strict=False):
            spent[name] += after - before
        count += len(rows)
        del docs
    conn.close()
    return {"entries": count, "ok": bad == 0, "cpu": spent}


def child_iterate(url: str) -> dict[str, Any]:
    """Read every entry through LedgerStore.iter_entries and check each payload digest."""
    from flightlog.store.ledger import LedgerStore

    store = LedgerStore.open(url)
    started = time.perf_counter()
    count, bad = 0, 0
    for entry in store.iter_entries():
        if entry.payload is not None and hashlib.sha256(entry.payload).hexdigest() != (
            entry.payload_sha256
        ):
            bad += 1
        count += 1
    seconds = time.perf_counter() - started
    store.close()
    return {"seconds": seconds, "entries": count, "ok": bad == 0}


def child_verify(url: str, home: Path) -> dict[str, Any]:
    """Run Flightlog.verify(), reporting progress on stderr."""
    from flightlog.config import Settings
    from flightlog.service import Flightlog

    def progress(done: int, total: int) -> None:
        print(f"progress {done} {total}", file=sys.stderr, flush=True)

    with Flightlog.open(Settings(database_url=url, home=home)) as service:
        before = vm_hwm_kb()
        with TreePeak() as tree:
            started, cpu_started = time.perf_counter(), time.process_time()
            report = service.verify(progress=progress)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    # The workers have exited (the pool is shut down): their CPU time is the children's.
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cpu_seconds": cpu + workers.ru_utime + workers.ru_stime,
        "tree_peak_kb": tree.peak_kb,
        "seconds": seconds,
        "entries": report.entries_checked,
        "nodes": report.nodes_checked,
        "checkpoints": report.checkpoints_checked,
        "ok": report.ok,
        "problem": None if report.problem is None else report.problem.detail,
        "hwm_before_kb": before,
        # Worker processes (parallel verification) report their own peak through rusage.
        "worker_peak_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    }


def child_main(argv: Sequence[str]) -> None:
    """Entry point of the child processes: run one measurement, print JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--child", choices=("read", "iterate", "verify", "steps", *CEILING_STAGES), required=True
    )
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--url", help="verify this store instead of the SQLite file")
    parser.add_argument("--part", type=int, default=0)
    parser.add_argument("--parts", type=int, default=1)
    parser.add_argument("--ceiling", action="store_true", help="a ceiling stage, not a check")
    args = parser.parse_args(argv)
    url = args.url or f"sqlite:///{args.db}"
    if args.ceiling:
        out = child_ceiling(args.db, args.child, args.part, args.parts)
    elif args.child == "read":
        out = child_read(args.db)
    elif args.child == "steps":
        out = child_steps(args.db)
    elif args.child == "iterate":
        out = child_iterate(url)
    else:
        out = child_verify(url, args.home)
    out["hwm_kb"] = vm_hwm_kb()
    print(json.dumps(out))


# -- the parent --------------------------------------------------------------------------


def run_child(
    kind: str, log: CachedLog, console: Console, url: str | None = None
) -> dict[str, Any]:
    """Run one child measurement on ``log``, showing its progress; return its figures."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from bench.results import REPO_ROOT, python_command

    cmd = python_command("verify", "--child", kind, "--db", str(log.path), "--home", str(log.home))
    if url is not None:
        cmd += ["--url", url]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(f"{kind} {log.entries:,} entries", total=log.entries)
        proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert proc.stderr is not None
        assert proc.stdout is not None
        errors: list[str] = []
        for line in proc.stderr:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "progress":
                bar.update(task, completed=int(parts[1]), total=int(parts[2]))
            else:
                errors.append(line)
        out = proc.stdout.read()
        if proc.wait() != 0:
            raise RuntimeError(f"{kind} child failed:\n{''.join(errors)}")
    result: dict[str, Any] = json.loads(out)
    return result


@dataclass(frozen=True)
class Ceiling:
    """What ``parts`` processes doing one ceiling stage at once reached."""

    rate: float  # entries/s over the wall time of the slowest process
    cpu_us: float  # CPU time per entry, all processes together


def ceiling(log: CachedLog, stage: str, parts: int) -> Ceiling:
    """Run ``parts`` processes doing ``stage`` over equal slices of ``log`` at once."""
    from bench.results import REPO_ROOT, python_command

    procs = [
        subprocess.Popen(
            python_command(
                "verify",
                "--child",
                stage,
                "--ceiling",
                "--db",
                str(log.path),
                "--home",
                str(log.home),
                "--part",
                str(part),
                "--parts",
                str(parts),
            ),
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for part in range(parts)
    ]
    outs = [json.loads(p.communicate()[0]) for p in procs]
    if any(p.returncode != 0 or not o["ok"] for p, o in zip(procs, outs, strict=True)):
        raise RuntimeError(f"ceiling {stage} x{parts} failed")
    entries = sum(o["entries"] for o in outs)
    return Ceiling(
        entries / max(o["seconds"] for o in outs),
        sum(o["cpu_seconds"] for o in outs) / entries * 1e6,
    )


CEILING_WHAT = {
    "read": "chunked read of verify's columns + sha256 of every payload",
    "leaf": "read + payload digests + leaf hashes + tree levels (the Merkle part's own work)",
    "refs": "read + Merkle work + parse every payload and derive its refs (no compare)",
    "check": "all of verify's per-entry work: the above + time index + read and compare the "
    "stored refs",
}


def _ceiling_rows(
    log: CachedLog, console: Console, verify_rate: float, checks: Sequence[Ceiling]
) -> list[Row]:
    from bench.results import Row, median

    rows = []
    with console.status("ceiling runs"):
        for stage in CEILING_STAGES:
            one = (
                Ceiling(median([c.rate for c in checks]), median([c.cpu_us for c in checks]))
                if stage == "check"
                else ceiling(log, stage, 1)
            )
            two = ceiling(log, stage, 2)
            rounds = (
                f"median of {len(checks)}, alternated with verify" if stage == "check" else "1 run"
            )
            rows += [
                Row(
                    f"ceiling, 1 process: {CEILING_WHAT[stage]}",
                    f"{one.rate:,.0f} entries/s",
                    f"{rounds}; {one.cpu_us:.2f} us CPU per entry",
                ),
                Row(
                    f"ceiling, 2 processes: {CEILING_WHAT[stage]}",
                    f"{two.rate:,.0f} entries/s",
                    f"1 run; {two.cpu_us:.2f} us CPU per entry; "
                    f"verify reaches {verify_rate / two.rate:.2f} x this",
                ),
            ]
    return rows


def step_costs(runs: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Each step's CPU time per entry (us), the median over ``runs`` of ``child_steps``."""
    from bench.results import median

    return {name: median([r["cpu"][name] / r["entries"] * 1e6 for r in runs]) for name, _ in STEPS}


def _step_rows(
    per_entry: dict[str, float], runs: int, cpus: int, verify_cpu_us: float
) -> list[Row]:
    """One entry's minimum work step by step, its sum, and what the target leaves per entry."""
    from bench.results import Row

    total = sum(per_entry.values())
    rows = [
        Row(
            f"step {k}: {what}",
            f"{per_entry[name]:.2f} us",
            f"CPU per entry, median of {runs}; {per_entry[name] / total:.0%} of the sum",
        )
        for k, (name, what) in enumerate(STEPS, 1)
    ]
    budget = cpus * 1e6 / TARGET_RATE
    rows += [
        Row(
            "one entry's minimum work in Python (sum of the steps)",
            f"{total:.2f} us CPU",
            f"= {1e6 / total:,.0f} entries/s per core, {cpus * 1e6 / total:,.0f} on "
            f"{cpus} cores with nothing else running",
        ),
        Row(
            f"what {TARGET_RATE:,} entries/s on {cpus} cores allows per entry",
            f"{budget:.2f} us CPU",
            f"{total / budget:.1f} x less than the sum of the steps; steps 1-2 alone "
            f"(read + digest) take {per_entry['read'] + per_entry['digest']:.2f} us",
        ),
        Row(
            "Flightlog.verify() CPU per entry / the sum of the steps",
            f"{verify_cpu_us / total:.2f} x",
            f"{verify_cpu_us:.2f} us against {total:.2f} us: what verify spends beyond the "
            "minimum work (1.00 x = none; both move with the load of the shared machine)",
        ),
    ]
    return rows


def run(config: BenchConfig, console: Console) -> Section:
    """Measure full verification of the cached log against a plain read of its rows."""
    from bench.cached_log import ensure_log
    from bench.profiling import profile_rows
    from bench.results import Row, Section, Target, median

    log = ensure_log(config.entries, config.data_dir, console)
    section = Section(
        "verify",
        f"Full verification of a {log.entries:,}-entry SQLite log",
        {"entries": f"{log.entries:,}", "repetitions (max)": str(config.repeat)},
    )
    reads: list[dict[str, Any]] = []
    verifies: list[dict[str, Any]] = []
    checks: list[Ceiling] = []
    steps: list[dict[str, Any]] = []
    spent = 0.0
    for _ in range(config.repeat):
        reads.append(run_child("read", log, console))
        if spent < VERIFY_BUDGET_SECONDS:
            verifies.append(run_child("verify", log, console))
            spent += verifies[-1]["seconds"]
            with console.status("ceiling: verify's per-entry work, 1 process"):
                checks.append(ceiling(log, "check", 1))
            steps.append(run_child("steps", log, console))
    iterate = run_child("iterate", log, console)

    read_rate = median([r["entries"] / r["seconds"] for r in reads])
    verify_rate = median([v["entries"] / v["seconds"] for v in verifies])
    verify_cpu_us = median([v["cpu_seconds"] / v["entries"] * 1e6 for v in verifies])
    iterate_rate = iterate["entries"] / iterate["seconds"]
    verify_mb = max(v["hwm_kb"] for v in verifies) / 1024
    tree_mb = max(v["tree_peak_kb"] for v in verifies) / 1024
    ok = all(v["ok"] for v in verifies) and all(v["entries"] == log.entries for v in verifies)
    section.rows += [
        Row(
            "baseline: sqlite3 paged read + sha256 of every payload",
            f"{read_rate:,.0f} entries/s",
            f"median of {len(reads)}; peak RSS {max(r['hwm_kb'] for r in reads) / 1024:.0f} MB",
        ),
        Row(
            "reference: LedgerStore.iter_entries + sha256",
            f"{iterate_rate:,.0f} entries/s",
            f"1 run; peak RSS {iterate['hwm_kb'] / 1024:.0f} MB",
        ),
        Row(
            "Flightlog.verify()",
            f"{verify_rate:,.0f} entries/s",
            f"median of {len(verifies)}; {median([v['seconds'] for v in verifies]):.1f} s per run",
        ),
        Row(
            "Flightlog.verify(): CPU time per entry",
            f"{verify_cpu_us:.2f} us",
            f"median of {len(verifies)}; the verifying process and its workers together",
        ),
        Row(
            "ratio verify CPU per entry / the same work with nothing around it (1 process)",
            f"{verify_cpu_us / median([c.cpu_us for c in checks]):.2f} x",
            f"the ceiling 'all of verify's per-entry work' below, alternated with verify "
            f"({median([c.cpu_us for c in checks]):.2f} us); lower is better, 1.00 x = no overhead",
        ),
        Row("ratio verify / baseline", f"{verify_rate / read_rate:.3f} x", "higher is better"),
        Row(
            "peak RSS of the verifying process",
            f"{verify_mb:.0f} MB",
            f"VmHWM; {verifies[0]['hwm_before_kb'] / 1024:.0f} MB after opening the log",
        ),
        Row(
            "peak RSS of each verification worker process",
            f"{max(v.get('worker_peak_kb', 0) for v in verifies) / 1024:.0f} MB",
            "largest worker (0 when the log was checked in one process)",
        ),
        Row(
            "peak RSS of all verification processes together",
            f"{tree_mb:.0f} MB",
            "sum of VmRSS over the verifying process and its workers, sampled every 50 ms",
        ),
        Row(
            "verification result",
            "ok" if ok else "FAILED",
            f"{verifies[0]['entries']:,} entries, {verifies[0]['nodes']:,} nodes, "
            f"{verifies[0]['checkpoints']} checkpoints checked",
        ),
    ]
    if log.build_seconds is not None:
        section.rows.append(
            Row(
                "log build (Flightlog.record, 10,000 per batch)",
                f"{log.entries / log.build_seconds:,.0f} entries/s",
                f"{log.build_seconds:.0f} s, once; reused from bench/data afterwards",
            )
        )
    section.targets += [
        Target(
            f">= {TARGET_RATE:,} entries/s",
            f"{verify_rate:,.0f} entries/s",
            ok and verify_rate >= TARGET_RATE,
        ),
        Target(
            f"peak RSS of all processes together < {TARGET_RSS_MB} MB",
            f"{tree_mb:.0f} MB",
            tree_mb < TARGET_RSS_MB,
        ),
    ]
    if not ok:
        section.notes.append(f"Verification reported a problem: {verifies[0]['problem']}")
    section.rows += _ceiling_rows(log, console, verify_rate, checks)
    cpus = len(os.sched_getaffinity(0))
    costs = step_costs(steps)
    section.rows += _step_rows(costs, len(steps), cpus, verify_cpu_us)
    minimum_us = sum(costs.values())
    if minimum_us > cpus * 1e6 / TARGET_RATE:
        section.notes.append(
            f"{TARGET_RATE:,} entries/s is out of reach on this machine: one entry's minimum "
            f"verification work in Python (the steps above, each at its cheapest, in CPU "
            f"time without any waiting) costs {minimum_us:.2f} us, more than the "
            f"{cpus * 1e6 / TARGET_RATE:.2f} us the target allows per entry on {cpus} cores; "
            "parsing every payload and re-deriving its refs is a check verify keeps."
        )
    _postgres(config, log, console, section, read_rate)
    if config.profile:
        small = ensure_log(min(PROFILE_ENTRIES, config.entries), config.data_dir, console)
        from flightlog.service import Flightlog

        with Flightlog.open(small.settings()) as service:
            section.profile = profile_rows(service.verify, top=20)
        section.notes.append(f"Profile: Flightlog.verify() of a {small.entries:,}-entry log.")
    return section


def _postgres(
    config: BenchConfig, log: CachedLog, console: Console, section: Section, read_rate: float
) -> None:
    """Verify a PostgreSQL copy of the same log once, reported beside the SQLite figures."""
    from bench.append import postgres_reachable
    from bench.cached_log import ensure_pg_log
    from bench.results import Row

    problem = postgres_reachable(config.postgres_url) if config.postgres_url else "skipped"
    if config.postgres_url is None or problem is not None:
        section.notes.append(f"PostgreSQL not measured: {problem}.")
        return
    url = ensure_pg_log(log, config.postgres_url, console)
    pg = run_child("verify", log, console, url=url)
    section.rows += [
        Row(
            "PostgreSQL: Flightlog.verify()",
            f"{pg['entries'] / pg['seconds']:,.0f} entries/s",
            f"1 run, {pg['seconds']:.1f} s; {'ok' if pg['ok'] else pg['problem']}; "
            f"{pg['entries'] / pg['seconds'] / read_rate:.3f} x the SQLite baseline",
        ),
        Row(
            "PostgreSQL: peak RSS of all verification processes together",
            f"{pg['tree_peak_kb'] / 1024:.0f} MB",
            "the server's own memory not included",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    """Run only this benchmark (``python -m bench.verify``), or one child measurement."""
    from bench.config import BenchConfig, run_alone

    args = list(sys.argv[1:] if argv is None else argv)
    if "--child" in args:
        child_main(args)
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=BenchConfig.entries)
    parser.add_argument("--repeat", type=int, default=BenchConfig.repeat)
    parser.add_argument(
        "--postgres-url",
        default=BenchConfig.postgres_url,
        help="a PostgreSQL database the log is copied to (a schema of its own)",
    )
    parser.add_argument("--no-postgres", action="store_true")
    parsed = parser.parse_args(args)
    config = BenchConfig(
        entries=parsed.entries,
        repeat=parsed.repeat,
        postgres_url=None if parsed.no_postgres else parsed.postgres_url,
    )
    run_alone(run, config)


if __name__ == "__main__":
    main()
