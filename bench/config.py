"""The knobs of a benchmark run, shared by every benchmark."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from bench.results import DATA_DIR, RESULTS_PATH, Section, machine, print_section, update_results

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class BenchConfig:
    """Sizes, repetitions and where things go."""

    entries: int = 1_000_000  # size of the log that verify and proof measure
    append_events: int = 30_000  # events per append round (1,000 per transaction)
    repeat: int = 3  # repetitions; figures are medians over them
    server_seconds: float = 10.0  # length of each HTTP load phase
    postgres_url: str | None = DEFAULT_POSTGRES_URL  # None: skip PostgreSQL
    data_dir: Path = DATA_DIR
    results: Path = RESULTS_PATH
    seed: int = 20261126
    profile: bool = True  # add a cProfile breakdown to the sections that support it


def run_alone(run: Callable[[BenchConfig, Console], Section], config: BenchConfig) -> None:
    """Run one benchmark on its own: print its section and write it to RESULTS.md."""
    console = Console()
    section = run(config, console)
    where = machine()
    print_section(console, section, where)
    update_results(section, where, config.results)
