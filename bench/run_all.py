"""Run the benchmarks and write their figures to bench/RESULTS.md.

``python bench/run_all.py`` runs everything at full size (a 1,000,000-entry log, built
once into bench/data/ and reused); ``--quick`` is a smoke run with small sizes;
``--only verify --only proof`` picks benchmarks; ``--entries 20000`` sets the log size.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

# Run as a script (``python bench/run_all.py``), the repository root is not on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console

from bench import (
    append,
    cli_startup,
    evidence,
    projections,
    proof,
    questions,
    server,
    verify,
    webhooks,
)
from bench.config import DEFAULT_POSTGRES_URL, BenchConfig
from bench.results import Section, machine, print_section, update_results

BENCHMARKS: dict[str, Callable[[BenchConfig, Console], Section]] = {
    "append": append.run,
    "verify": verify.run,
    "proof": proof.run,
    "server": server.run,
    "cli_startup": cli_startup.run,
    "webhooks": webhooks.run,
    "evidence": evidence.run,
    "projections": projections.run,
    "questions": questions.run,
}
QUICK = BenchConfig(entries=20_000, append_events=5_000, repeat=2, server_seconds=3.0)


def parse_config(argv: Sequence[str]) -> tuple[BenchConfig, list[str]]:
    """The run's configuration and the benchmarks to run, from the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), default=[])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--entries", type=int, help="log size for verify and proof")
    parser.add_argument("--append-events", type=int, help="events per append round")
    parser.add_argument("--repeat", type=int, help="repetitions (figures are medians)")
    parser.add_argument("--server-seconds", type=float, help="length of each HTTP load phase")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--no-profile", action="store_true", help="skip cProfile breakdowns")
    parser.add_argument("--results", type=Path, help="write figures here, not bench/RESULTS.md")
    args = parser.parse_args(argv)
    config = QUICK if args.quick else BenchConfig()
    overrides = {
        "entries": args.entries,
        "append_events": args.append_events,
        "repeat": args.repeat,
        "server_seconds": args.server_seconds,
        "results": args.results,
    }
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    config = replace(
        config,
        postgres_url=None if args.no_postgres else args.postgres_url,
        profile=not args.no_profile,
    )
    return config, args.only or list(BENCHMARKS)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the chosen benchmarks in order, writing each section as soon as it is done."""
    config, names = parse_config(sys.argv[1:] if argv is None else argv)
    console = Console()
    for name in names:
        console.rule(name)
        where = machine()
        section = BENCHMARKS[name](config, console)
        print_section(console, section, where)
        update_results(section, where, config.results)
    console.print(f"figures written to {config.results}", highlight=False)


if __name__ == "__main__":
    main()
