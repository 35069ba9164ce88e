"""CLI start-up: ``--help``, ``record event`` to a server, and every question on a local store.

Each command runs as a fresh process (interpreter start included), ``RUNS`` times, beside
``python -c pass`` measured in the same run; figures are medians of wall time. The
server is a real ``flightlog serve`` on a fresh SQLite file; the questions (``trace``,
``diff``, ``suspects``, ``search``, ``timeline``, ``log --limit 1``) are asked of a local
SQLite store holding the demo history (``flightlog demo``).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from bench import events as gen
from bench.config import BenchConfig, run_alone
from bench.results import REPO_ROOT, Row, Section, Target, median, millis
from bench.server import FLIGHTLOG, create_token, free_port, running

RUNS = 10
HELP_TARGET = 0.25
RECORD_TARGET = 0.4
QUESTION_TARGET = 1.0
DEMO_START = "2026-11-02T09:00:00Z"  # the demo's incident is then at 2026-11-09T00:12:00Z
QUESTIONS: tuple[tuple[str, ...], ...] = (
    ("trace", "production/payments"),
    ("diff", "production/payments", "1.4.0", "1.6.0"),
    ("suspects", "--env", "production", "--at", "2026-11-09T00:12:00Z", "--window", "2d"),
    ("search", "CVE-2026-4242"),
    ("timeline",),
    ("log", "--limit", "1"),
)


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wall_times(
    cmd: Sequence[str], env: dict[str, str], runs: int = RUNS, cpu: list[float] | None = None
) -> list[float]:
    """Wall time of ``runs`` runs of ``cmd`` as new processes; each must exit 0.

    With ``cpu`` given, the CPU time (user + system) of each run is appended to it: on a
    shared machine wall time includes waiting for a core, CPU time does not.
    """
    times: list[float] = []
    for _ in range(runs):
        used = _child_cpu()
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        if cpu is not None:
            cpu.append(_child_cpu() - used)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd[:3])} exited {done.returncode}: "
                f"{done.stderr.decode(errors='replace')[-500:]}"
            )
    return times


def import_profile(cmd: Sequence[str], env: dict[str, str], top: int = 6) -> list[Row]:
    """The slowest top-level imports of one run of ``cmd`` (``python -X importtime``)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *cmd],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    found: list[tuple[int, str]] = []
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2]
        # Top-level imports are indented by one space only; nested ones by more.
        if name.startswith(" ") and not name.startswith("  "):
            found.append((int(parts[1]), name.strip()))
    found.sort(reverse=True)
    return [
        Row(name, millis(micros / 1e6), "cumulative import time") for micros, name in found[:top]
    ]


def ask_questions(
    base_env: dict[str, str], bare: float
) -> tuple[list[Row], list[Target], list[Row]]:
    """Every question, as a new process, against a local SQLite store holding the demo."""
    rows: list[Row] = []
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="flightlog-bench-questions-") as tmp:
        env = dict(
            base_env,
            FLIGHTLOG_DATABASE_URL=f"sqlite:///{Path(tmp) / 'demo.db'}",
            FLIGHTLOG_HOME=str(Path(tmp) / "home"),
        )
        wall_times([FLIGHTLOG, "demo", "--start", DEMO_START], env, 1)
        # The floor of any question on a local store: the interpreter importing SQLAlchemy.
        sa_cpu: list[float] = []
        sa_import = median(wall_times([sys.executable, "-c", "import sqlalchemy"], env, cpu=sa_cpu))
        rows.append(
            Row(
                "python -c 'import sqlalchemy'",
                millis(sa_import),
                f"{sa_import / bare:.1f} x python -c pass; CPU {millis(median(sa_cpu))}: "
                "what every local store query loads first",
            )
        )
        for args in QUESTIONS:
            wall_times([FLIGHTLOG, *args], env, 1)  # warm-up: bytecode caches written
            cpu: list[float] = []
            took = median(wall_times([FLIGHTLOG, *args], env, cpu=cpu))
            label = f"flightlog {' '.join(args)}"
            rows.append(
                Row(
                    label,
                    millis(took),
                    f"{took / bare:.1f} x python -c pass; CPU {millis(median(cpu))}; "
                    "local demo store (SQLite)",
                )
            )
            targets.append(Target(f"{args[0]} < 1 s", millis(took), took < QUESTION_TARGET))
        profile = import_profile([FLIGHTLOG, *QUESTIONS[0]], env)
    return rows, targets, profile


def run(config: BenchConfig, console: Console) -> Section:  # noqa: ARG001 - the run_all signature
    """Measure both commands and the bare interpreter in one run."""
    section = Section(
        key="cli_startup",
        title="CLI start-up",
        parameters={"runs": str(RUNS), "figure": "median wall time, process start included"},
    )
    # Start-up is measured as installed: with bytecode caches, which a shell that sets
    # PYTHONDONTWRITEBYTECODE would otherwise leave unwritten, compiling every run.
    base_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FLIGHTLOG_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    bare_cpu: list[float] = []
    help_cpu: list[float] = []
    record_cpu: list[float] = []
    bare = median(wall_times([sys.executable, "-c", "pass"], base_env, cpu=bare_cpu))
    wall_times([FLIGHTLOG, "--help"], base_env, 1)  # warm-up: bytecode caches written
    helped = median(wall_times([FLIGHTLOG, "--help"], base_env, cpu=help_cpu))
    with tempfile.TemporaryDirectory(prefix="flightlog-bench-cli-") as tmp:
        work = Path(tmp)
        env = dict(
            base_env,
            FLIGHTLOG_DATABASE_URL=f"sqlite:///{work / 'server.db'}",
            FLIGHTLOG_HOME=str(work / "home"),
        )
        port = free_port()
        serve = [FLIGHTLOG, "serve", "--port", str(port), "--checkpoint-interval", "3600"]
        with running(serve, env, work / "serve.log", port) as (base, _pid):
            token = create_token(env)
            event_file = work / "event.json"
            client_env = dict(base_env, FLIGHTLOG_SERVER=base, FLIGHTLOG_TOKEN=token)
            times: list[float] = []
            for n in range(RUNS):
                event_file.write_text(json.dumps(gen.service_deployed(n, run="cli")))
                command = [FLIGHTLOG, "record", "event", str(event_file)]
                times += wall_times(command, client_env, 1, cpu=record_cpu)
            recorded = median(times)
            profile_cmd = [FLIGHTLOG, "record", "event", str(event_file)]
            section.profile += import_profile(profile_cmd, client_env)
    asked, question_targets, question_profile = ask_questions(base_env, bare)
    console.print(f"python -c pass {millis(bare)}; --help {millis(helped)}", highlight=False)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    section.rows += [
        Row("python -c pass", millis(bare), f"CPU {millis(median(bare_cpu))}: the floor"),
        Row(
            "flightlog --help",
            millis(helped),
            f"{helped / bare:.1f} x python -c pass; CPU {millis(median(help_cpu))}",
        ),
        Row(
            "flightlog record event (one event, --server)",
            millis(recorded),
            f"{recorded / bare:.1f} x python -c pass; CPU {millis(median(record_cpu))}; "
            "to a running flightlog serve on SQLite",
        ),
        *asked,
    ]
    section.profile += [
        Row(r.label, r.value, f"{r.note} of `flightlog trace`") for r in question_profile
    ]
    section.notes.append(
        "Where the start-up of `record` goes (profile below): Typer 0.29 coerces every "
        "option through a pydantic TypeAdapter (`typer._adapters`, with pydantic's plugin "
        "discovery scanning the installed packages' entry points), and httpx with httpcore "
        "is the HTTP client; the CLI itself loads neither FastAPI, uvicorn, SQLAlchemy, "
        "Rich (for `record`) nor the JSON Schema validator."
    )
    section.notes.append(
        "Where the start-up of a question goes (profile below): SQLAlchemy's import is the "
        "largest part (its row above, same run), then Typer and the CLI's command modules, "
        "Rich for the tree, the store's opening and the queries. A question loads no "
        "Alembic or Mako (the schema revision is one query against the head read from the "
        "migration files), no pydantic (text, flags and whole numbers in range skip "
        "Typer's TypeAdapter coercion), no JSON Schema validator and no verification code."
    )
    section.notes.append(
        f"Load average at the end of the run: {load} on {os.cpu_count()} CPUs; wall times "
        "include waiting for a core, the CPU figures do not."
    )
    section.targets += [
        Target("flightlog --help < 250 ms", millis(helped), helped < HELP_TARGET),
        Target(
            "record event of one event to a server < 400 ms",
            millis(recorded),
            recorded < RECORD_TARGET,
        ),
        *question_targets,
    ]
    return section


if __name__ == "__main__":
    run_alone(run, BenchConfig())
