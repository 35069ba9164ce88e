"""CPU per ingest request with no HTTP server: ``create_app`` driven directly as ASGI.

The HTTP bench (``bench/server.py``) measures what a client sees, but its figures move
with the load generator and whatever else shares the cores. This driver calls the app's
ASGI entry point with ``--concurrency`` requests in flight, on a fresh store, and
reports the process CPU time (event loop, thread pool and the writer thread together)
per request and per event, so a change to the ingest path can be compared with the one
before it in a few seconds. It also counts the append transactions (each one round trip
to the writer thread and back) and the context switches per request. ``--profile`` adds
a cProfile of the event loop thread. The app runs on uvloop, as under ``flightlog serve``
(``--asyncio-loop`` for asyncio's own loop); ``--prepare-processes N`` gives it batch
prepare processes and counts their CPU with the process's.

    python bench/asgi_ingest.py                      # 4,000 single events, 64 at a time
    python bench/asgi_ingest.py --batch 1000 --requests 40
    python bench/asgi_ingest.py --profile --top 25
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop

# Run as a script (``python bench/asgi_ingest.py``), the repository root is not on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import events as gen
from flightlog.auth.tokens import create_token
from flightlog.config import Settings
from flightlog.server.app import create_app
from flightlog.service import Flightlog

SINGLE_PATH = "/api/v1/events"
BATCH_PATH = "/api/v1/events/batch"


@dataclass(frozen=True)
class Measured:
    """One driven run: how many requests and events, and the CPU and wall time they took."""

    requests: int
    events: int
    cpu_seconds: float
    loop_cpu_seconds: float  # the event loop's thread alone (the writer's thread excluded)
    wall_seconds: float
    statuses: dict[int, int]
    commits: int = 0  # append transactions: each one hand-off to the writer thread and back
    switches: int = 0  # context switches of the whole process (voluntary and forced)

    @property
    def cpu_us_per_request(self) -> float:
        """Process CPU per request, in microseconds."""
        return self.cpu_seconds / max(self.requests, 1) * 1e6

    @property
    def loop_us_per_request(self) -> float:
        """CPU of the event loop's thread per request, in microseconds."""
        return self.loop_cpu_seconds / max(self.requests, 1) * 1e6

    @property
    def requests_per_commit(self) -> float:
        """Requests answered per append transaction (per writer-thread round trip)."""
        return self.requests / max(self.commits, 1)

    @property
    def switches_per_request(self) -> float:
        """Context switches of the process per request."""
        return self.switches / max(self.requests, 1)

    @property
    def cpu_us_per_event(self) -> float:
        """Process CPU per event, in microseconds."""
        return self.cpu_seconds / max(self.events, 1) * 1e6


def context_switches() -> int:
    """Voluntary plus forced context switches of this process's threads so far (0 off Linux)."""
    total = 0
    for status in Path("/proc/self/task").glob("*/status"):
        try:
            text = status.read_text(encoding="ascii")
        except OSError:  # a thread ended while listed
            continue
        for line in text.splitlines():
            if "ctxt_switches:" in line:
                total += int(line.split(":", 1)[1])
    return total


def _pool_pids(pool: Any) -> list[int]:
    """The process ids of a ProcessPoolExecutor's processes (none without a pool)."""
    return [] if pool is None else list(getattr(pool, "_processes", {}) or {})


def _cpu_of(pids: Sequence[int]) -> float:
    """CPU seconds (user + system) the processes ``pids`` used so far, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _scope(path: str, token: str, length: int) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(length).encode()),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }


async def _call(app: Any, path: str, token: str, body: bytes) -> int:
    """One request through the ASGI app; return its status."""
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # a disconnect never comes while the answer is pending
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])

    await app(_scope(path, token, len(body)), receive, send)
    return status


async def drive(
    app: Any, path: str, token: str, bodies: Sequence[bytes], concurrency: int
) -> dict[int, int]:
    """Send every body with ``concurrency`` requests in flight; count the statuses."""
    statuses: dict[int, int] = {}
    queue = iter(bodies)

    async def client() -> None:
        for body in queue:
            status = await _call(app, path, token, body)
            statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return statuses


def bodies_for(requests: int, batch: int, run: str) -> list[bytes]:
    """Request bodies: one event each (``batch`` 0), or JSON arrays of ``batch`` events."""
    if batch == 0:
        return [
            json.dumps(gen.service_deployed(n, run=run), separators=(",", ":")).encode()
            for n in range(requests)
        ]
    return [gen.json_array(gen.events(i * batch, batch, run=run)) for i in range(requests)]


@dataclass(frozen=True)
class Load:
    """What to send: how many requests, events per request (0: single), how many at once."""

    requests: int = 4000
    batch: int = 0
    concurrency: int = 64
    warmup: int = 200
    prepare_processes: int = 0  # the app's batch prepare processes (serve --prepare-processes)
    uvloop: bool = True  # the event loop flightlog serve runs on (False: asyncio's own)


async def measure(
    settings: Settings, load: Load, profiler: cProfile.Profile | None = None
) -> Measured:
    """Start the app over ``settings``, warm it up, then drive and time ``load.requests``."""
    requests, batch, concurrency = load.requests, load.batch, load.concurrency
    with Flightlog.open(settings) as service:
        token = create_token(service.tokens, "bench", ["ingest"])
        app = create_app(
            settings,
            flightlog=service,
            checkpoint_interval=3600,
            prepare_processes=load.prepare_processes,
        )
        path = BATCH_PATH if batch else SINGLE_PATH
        async with app.router.lifespan_context(app):
            await drive(app, path, token, bodies_for(load.warmup, batch, "warmup"), concurrency)
            bodies = bodies_for(requests, batch, "measured")
            writer = app.state.server.writer
            helpers = _pool_pids(app.state.server.prepare_pool)
            commits, switches = writer.commits, context_switches()
            cpu, loop, wall = time.process_time(), time.thread_time(), time.perf_counter()
            cpu -= _cpu_of(helpers)
            if profiler is not None:
                profiler.enable()
            statuses = await drive(app, path, token, bodies, concurrency)
            if profiler is not None:
                profiler.disable()
            cpu = time.process_time() + _cpu_of(helpers) - cpu
            loop = time.thread_time() - loop
            wall = time.perf_counter() - wall
            switches = context_switches() - switches
            commits = writer.commits - commits
    events = requests * max(batch, 1)
    return Measured(requests, events, cpu, loop, wall, statuses, commits, switches)


def run_once(
    database_url: str | None, load: Load, profiler: cProfile.Profile | None = None
) -> Measured:
    """One measurement on a fresh store (a new SQLite file unless ``database_url``)."""
    with tempfile.TemporaryDirectory(prefix="flightlog-asgi-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'ledger.db'}"
        settings = Settings(database_url=url, home=Path(tmp) / "home", origin="bench.example/log")
        # The access log is part of the cost; where it goes is not.
        stderr, sys.stderr = sys.stderr, Path(os.devnull).open("w", encoding="utf-8")  # noqa: SIM115
        try:
            if load.uvloop:
                return uvloop.run(measure(settings, load, profiler))
            return asyncio.run(measure(settings, load, profiler))
        finally:
            sys.stderr.close()
            sys.stderr = stderr


def main(argv: Sequence[str] | None = None) -> None:
    """Measure and print CPU per request; the median of ``--repeat`` fresh runs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=0, help="events per request (0: single)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: a fresh SQLite file)")
    parser.add_argument(
        "--prepare-processes", type=int, default=0, help="batch prepare processes of the app"
    )
    parser.add_argument(
        "--asyncio-loop", action="store_true", help="asyncio's own event loop instead of uvloop"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the event loop thread")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    if args.database_url and args.repeat > 1:
        print("note: every run appends to the same PostgreSQL database", file=sys.stderr)
    warmup = max(1, args.warmup if not args.batch else max(2, args.warmup // args.batch))
    runs = []
    for _ in range(args.repeat):
        profiler = cProfile.Profile() if args.profile else None
        load = Load(
            args.requests,
            args.batch,
            args.concurrency,
            warmup,
            args.prepare_processes,
            uvloop=not args.asyncio_loop,
        )
        got = run_once(args.database_url, load, profiler)
        runs.append(got)
        print(
            f"{got.requests} requests, {got.events} events: "
            f"{got.cpu_us_per_request:,.0f} µs CPU/request "
            f"({got.loop_us_per_request:,.0f} on the event loop), {got.cpu_us_per_event:,.1f} µs/event, "
            f"{got.events / got.wall_seconds:,.0f} ev/s wall, "
            f"{got.requests_per_commit:,.1f} requests per commit, "
            f"{got.switches_per_request:.2f} context switches per request, "
            f"statuses {got.statuses}"
        )
        if profiler is not None:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
    runs.sort(key=lambda m: m.cpu_us_per_request)
    mid = runs[len(runs) // 2]
    loops = sorted(m.loop_us_per_request for m in runs)
    print(
        f"median: {mid.cpu_us_per_request:,.0f} µs CPU/request, "
        f"{mid.cpu_us_per_event:,.1f} µs CPU/event; "
        f"event loop {loops[len(loops) // 2]:,.0f} µs/request"
    )


if __name__ == "__main__":
    main()
