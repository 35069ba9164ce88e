"""Figures of one benchmark run: statistics, the machine they were measured on, and output.

Each benchmark returns a :class:`Section`; it is printed as Rich tables and replaces its
own block in ``bench/RESULTS.md`` (the other blocks are kept), so the file always holds
the latest run of every benchmark together with the machine and commit it ran on.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_PATH = REPO_ROOT / "bench" / "RESULTS.md"
DATA_DIR = REPO_ROOT / "bench" / "data"

# Sections appear in RESULTS.md in this order, whatever order they were run in.
SECTION_ORDER = (
    "append",
    "verify",
    "proof",
    "server",
    "cli_startup",
    "webhooks",
    "evidence",
    "projections",
    "questions",
)

_HEADER = """# Benchmark results

Produced by `python bench/run_all.py` (`make bench`); each benchmark replaces its own
section below with its latest run. The machine is shared and noisy, so every figure is
either a median over repetitions or a ratio against a baseline measured in the same run.
Smoke runs (`--quick`) write here too; the parameters line of each section says which
sizes it ran with.
"""
_BLOCK = re.compile(r"<!-- bench:(?P<key>[a-z0-9_]+) -->\n.*?<!-- /bench:(?P=key) -->\n", re.S)


@dataclass(frozen=True)
class Row:
    """One measured figure: what it is, its formatted value, and a short note."""

    label: str
    value: str
    note: str = ""


@dataclass(frozen=True)
class Target:
    """A product requirement, the figure it is judged on, and whether it was met."""

    requirement: str
    measured: str
    met: bool | None  # None: could not be measured in this run


@dataclass
class Section:
    """Everything one benchmark reports."""

    key: str
    title: str
    parameters: dict[str, str]
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile: list[Row] = field(default_factory=list)


@dataclass(frozen=True)
class Machine:
    """Where and when figures were measured."""

    date: str
    cpus: int
    cpu_model: str
    load: str
    python: str
    platform: str
    commit: str


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence."""
    return float(statistics.median(values))


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return float(ordered[rank - 1])


def rate(value: float) -> str:
    """A rate in events per second, with thousands separators."""
    return f"{value:,.0f} ev/s"


def millis(seconds: float) -> str:
    """A duration in milliseconds."""
    return f"{seconds * 1000:.3f} ms" if seconds < 0.01 else f"{seconds * 1000:.1f} ms"


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return platform.processor() or "unknown"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    return found.group(1).strip() if found else platform.processor() or "unknown"


def _commit() -> str:
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return commit


# Taken when the benchmarks start, which is when they import (and so measure) the code.
_COMMIT_AT_START = _commit()


def machine() -> Machine:
    """Describe this machine and interpreter now, and the commit the run started on."""
    commit = _COMMIT_AT_START
    load1, load5, _ = os.getloadavg()
    return Machine(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        cpus=len(os.sched_getaffinity(0)),
        cpu_model=_cpu_model(),
        load=f"{load1:.2f} / {load5:.2f}",
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.machine()}",
        commit=commit,
    )


def _status(met: bool | None) -> str:
    return {True: "met", False: "NOT met", None: "not measured"}[met]


def render_markdown(section: Section, where: Machine) -> str:
    """The Markdown block of ``section`` (with its start and end markers)."""
    params = ", ".join(f"{k} = {v}" for k, v in section.parameters.items())
    lines = [
        f"<!-- bench:{section.key} -->",
        f"## {section.title}",
        "",
        f"- date: {where.date}",
        f"- machine: {where.cpus} CPUs (`nproc`), {where.cpu_model}, {where.platform}, "
        f"load average at start {where.load} (1 / 5 min)",
        f"- Python {where.python}, commit `{where.commit}`",
        f"- parameters: {params}",
        "",
    ]
    if section.targets:
        lines += ["| target | measured | status |", "|---|---|---|"]
        lines += [
            f"| {t.requirement} | {t.measured} | **{_status(t.met)}** |" for t in section.targets
        ]
        lines.append("")
    lines += ["| measurement | value | note |", "|---|---|---|"]
    lines += [f"| {r.label} | {r.value} | {r.note} |" for r in section.rows]
    lines.append("")
    if section.profile:
        lines += ["Profile (cProfile, share of the profiled run's total time):", ""]
        lines += ["| function | share | where |", "|---|---|---|"]
        lines += [f"| `{r.label}` | {r.value} | {r.note} |" for r in section.profile]
        lines.append("")
    lines += [f"- {n}" for n in section.notes]
    if section.notes:
        lines.append("")
    lines.append(f"<!-- /bench:{section.key} -->")
    return "\n".join(lines) + "\n"


def update_results(section: Section, where: Machine, path: Path = RESULTS_PATH) -> None:
    """Replace (or add) the block of ``section`` in the results file, keeping the others."""
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    blocks = {m.group("key"): m.group(0) for m in _BLOCK.finditer(existing)}
    blocks[section.key] = render_markdown(section, where)
    order = [k for k in SECTION_ORDER if k in blocks]
    order += sorted(k for k in blocks if k not in SECTION_ORDER)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_HEADER + "".join("\n" + blocks[k] for k in order), encoding="utf-8")


def print_section(console: Console, section: Section, where: Machine) -> None:
    """Show ``section`` as Rich tables."""
    params = ", ".join(f"{k}={v}" for k, v in section.parameters.items())
    figures = Table(
        "measurement",
        "value",
        "note",
        title=f"{section.title}",
        caption=f"{where.cpus} CPUs, Python {where.python}, {where.commit}; {params}",
    )
    for r in section.rows:
        figures.add_row(r.label, r.value, r.note)
    console.print(figures)
    if section.targets:
        targets = Table("target", "measured", "status")
        for t in section.targets:
            style = {True: "green", False: "bold red", None: "yellow"}[t.met]
            targets.add_row(t.requirement, t.measured, f"[{style}]{_status(t.met)}[/]")
        console.print(targets)
    if section.profile:
        prof = Table("function", "share", "where", title="profile")
        for r in section.profile:
            prof.add_row(r.label, r.value, r.note)
        console.print(prof)
    for n in section.notes:
        console.print(f"• {n}", highlight=False)


def python_command(module: str, *args: str) -> list[str]:
    """The command running ``bench.<module>`` with this interpreter from the repository root."""
    return [sys.executable, "-m", f"bench.{module}", *args]
