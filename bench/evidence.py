"""Evidence parser throughput: files/s and MB/s on the largest corpus reports, a 10 MB JUnit.

Each parser is timed beside the bare parse of the same bytes (``json.loads``, or
defusedxml's ElementTree for XML) in the same run, so the ratio says what summarising
costs beyond reading the syntax. A ``flightlog record test`` of a generated 10 MB JUnit
file into a fresh SQLite store is timed as a user runs it (a new process each time).

    python bench/evidence.py [--quick]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console

from bench.config import BenchConfig, run_alone
from bench.results import REPO_ROOT, Row, Section, Target, median

CORPUS = REPO_ROOT / "tests" / "corpus"
# The largest report of each format in the corpus.
FILES = (
    "sarif/semgrep-oss-1.69.0-issue_10191.sarif",
    "sarif/dependency-check-6.1.2.sarif",
    "cyclonedx/grype-0.94.0-busybox-1.32.1.grype-report.json",
    "cyclonedx/trivy-alpine-310.trivy-report.json",
    "cyclonedx/grype-0.41.0-log4j.cdx.json",
    "junit/gotestsum-junitxml-report.xml",
)
BIG_JUNIT_BYTES = 10 * 1024 * 1024
RECORD_TARGET_SECONDS = 2.0


def big_junit(size: int) -> bytes:
    """A JUnit report of about ``size`` bytes: suites of 100 cases, 1 in 50 failing."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="generated">\n']
    total, suite, case = len(parts[0]), 0, 0
    while total < size:
        lines = [f'  <testsuite name="pkg.module{suite}" time="1.5">\n']
        for _ in range(100):
            if case % 50 == 0:
                body = (
                    f'    <testcase classname="pkg.module{suite}.TestThing" name="test_{case}" '
                    f'time="0.012"><failure message="assert {case} == {case + 1}" '
                    f'type="AssertionError">Traceback line one\nline two</failure></testcase>\n'
                )
            else:
                body = (
                    f'    <testcase classname="pkg.module{suite}.TestThing" name="test_{case}" '
                    'time="0.012"/>\n'
                )
            lines.append(body)
            case += 1
        lines.append("  </testsuite>\n")
        chunk = "".join(lines)
        parts.append(chunk)
        total += len(chunk)
        suite += 1
    parts.append("</testsuites>\n")
    return "".join(parts).encode()


def _best_rate(fn: Callable[[], object], seconds: float) -> tuple[float, int]:
    """Run ``fn`` repeatedly for about ``seconds``; return the median seconds per call, calls."""
    timings: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(timings) < 3:
        start = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - start)
    return median(timings), len(timings)


def _baseline(data: bytes) -> Callable[[], object]:
    """The bare parse of ``data``: json.loads, or defusedxml's ElementTree."""
    if data.lstrip().startswith(b"<"):
        from defusedxml.ElementTree import fromstring

        return lambda: fromstring(data)
    return lambda: json.loads(data)


def _record_seconds(report: Path, repeat: int, workdir: Path) -> tuple[list[float], list[float]]:
    """Wall and CPU time of ``flightlog record test --junit REPORT`` into a fresh store."""
    times, cpu = [], []
    for n in range(repeat):
        env = {
            **os.environ,
            "FLIGHTLOG_DATABASE_URL": f"sqlite:///{workdir / f'bench-{n}.db'}",
            "FLIGHTLOG_HOME": str(workdir / f"home-{n}"),
            "FLIGHTLOG_SERVER": "",
        }
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "from flightlog.cli.app import main; main()", "record",
             "test", "--junit", str(report)],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return times, cpu


def run(config: BenchConfig, console: Console) -> Section:
    """Measure every parser on its largest corpus file and on a 10 MB JUnit report."""
    from flightlog.evidence import parse_report

    seconds = 1.0 if config.repeat <= 2 else 3.0
    section = Section(
        key="evidence",
        title="Evidence parsers (files/s, MB/s; ratio to the bare JSON/XML parse)",
        parameters={"seconds per file": f"{seconds:g}", "record repeats": str(config.repeat)},
    )
    big = big_junit(BIG_JUNIT_BYTES)
    inputs = [(name, (CORPUS / name).read_bytes()) for name in FILES]
    inputs.append(("generated 10 MB JUnit", big))
    for name, data in inputs:
        label = name if name.startswith("generated") else Path(name).name
        console.print(f"parsing {label} ({len(data):,} bytes)", highlight=False)
        ours, calls = _best_rate(lambda d=data, n=label: parse_report(d, name=n), seconds)
        bare, _ = _best_rate(_baseline(data), seconds)
        mb = len(data) / 1e6
        section.rows.append(
            Row(
                label,
                f"{1 / ours:,.1f} files/s, {mb / ours:,.1f} MB/s",
                f"bare parse {mb / bare:,.1f} MB/s; ratio {bare / ours:.2f} x; "
                f"median of {calls} runs, {len(data):,} bytes",
            )
        )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        report = workdir / "big.xml"
        report.write_bytes(big)
        console.print("flightlog record test of the 10 MB JUnit report", highlight=False)
        times, cpu = _record_seconds(report, max(config.repeat, 1), workdir)
        startup, help_cpu = [], []
        for _ in range(max(config.repeat, 1)):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            startup.append(time.perf_counter() - start)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(
                [sys.executable, "-c", "from flightlog.cli.app import main; main()", "--help"],
                check=True, capture_output=True,
            )  # fmt: skip
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            help_cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    record = median(times)
    section.rows.append(
        Row(
            "flightlog record test, 10 MB JUnit, SQLite: wall",
            f"{record:.2f} s",
            f"median of {len(times)}; min-max {min(times):.2f}-{max(times):.2f} s; "
            f"python -c pass {median(startup) * 1000:.0f} ms in the same run",
        )
    )
    section.rows.append(
        Row(
            "flightlog record test, 10 MB JUnit, SQLite: CPU",
            f"{median(cpu):.2f} s",
            f"user + system of the process; flightlog --help alone {median(help_cpu):.2f} s",
        )
    )
    section.targets.append(
        Target(
            f"record test of a 10 MB JUnit file < {RECORD_TARGET_SECONDS:g} s",
            f"{record:.2f} s",
            record < RECORD_TARGET_SECONDS,
        )
    )
    section.notes.append(
        "Ratio = bare parse time / Flightlog parse time of the same bytes: 1.0 would mean "
        "summarising is free; JSON reports are read once by json.loads in both."
    )
    section.notes.append(
        "The record figure includes interpreter start, creating the fresh SQLite store and "
        "its signing key, parsing, building and validating the event and appending it "
        "(process start to exit)."
    )
    section.notes.append(
        "Wall times under contention (load average above the CPU count) mostly measure "
        "waiting for a core; the CPU figure is the process's own work, and the CLI's start "
        "alone (flightlog --help) is measured beside it in the same run."
    )
    return section


if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    run_alone(run, BenchConfig(repeat=2) if quick else BenchConfig())
