"""A cProfile breakdown reduced to the few functions that dominate, as report rows."""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable
from pathlib import Path

from bench.results import REPO_ROOT, Row


def _where(filename: str) -> str:
    path = Path(filename)
    if path.is_relative_to(REPO_ROOT / "src"):
        return str(path.relative_to(REPO_ROOT / "src"))
    if "site-packages" in path.parts:
        return str(Path(*path.parts[path.parts.index("site-packages") + 1 :]))
    return path.name or filename


def profile_rows(work: Callable[[], object], *, top: int = 10) -> list[Row]:
    """Run ``work`` under cProfile; the ``top`` functions by cumulative time, as shares."""
    profiler = cProfile.Profile()
    profiler.runcall(work)
    stats = pstats.Stats(profiler)
    table = stats.stats  # type: ignore[attr-defined]
    total = max(sum(v[2] for v in table.values()), 1e-12)  # sum of own (tottime) times
    ranked = sorted(table.items(), key=lambda kv: kv[1][3], reverse=True)
    rows: list[Row] = []
    for (filename, line, func), (_, _, own, cumulative, _) in ranked:
        if func.startswith("<") or filename == "~" or "contextlib" in filename:
            continue
        if Path(filename).is_relative_to(REPO_ROOT / "bench"):
            continue
        rows.append(
            Row(
                func,
                f"{cumulative / total:.0%} cumulative, {own / total:.0%} own",
                f"{_where(filename)}:{line}",
            )
        )
        if len(rows) == top:
            break
    return rows
