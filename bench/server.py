"""HTTP ingest under load: ``flightlog serve`` against HTTP ceilings and a storage ceiling.

A real server process (``flightlog serve`` on 127.0.0.1, a free port, a fresh store)
receives, for a bounded time, one event per request from 64 concurrent connections,
then 1,000-event batches from a few connections. The load comes from ``wrk`` with
``bench/ingest.lua`` (distinct ids, one result line); without ``wrk`` a built-in asyncio
generator takes its place, and the section says so. In the same run and with the same
load generator:

- the raw ASGI ceiling: a plain ASGI app under the same HTTP server (uvicorn with
  httptools and uvloop) that reads and parses the body and answers 201;
- the FastAPI ceiling: a FastAPI app whose POST endpoints only read the body;
- the storage ceiling: a bare loop of single-row insert transactions on the same store,
  and Flightlog's own append of 1,000-event transactions with nothing else running.

On SQLite the server runs with one worker, two workers, and one worker with one
prepare process (``serve --prepare-processes 1``, big batches validated on the other
core while the writer appends). Everything runs on 127.0.0.1 and stops by itself. Targets (product requirements):
single events >= 3,000 ev/s with p99 < 100 ms and >= 0.5 x the raw ASGI ceiling;
batches >= 20,000 ev/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from fastapi import FastAPI, Request, Response
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from starlette.types import Receive, Scope, Send

from bench import asgi_ingest
from bench import events as gen
from bench.append import fresh_file, libpq_dsn, pg_schema, postgres_reachable
from bench.config import BenchConfig, run_alone
from bench.loadgen import Load, drive
from bench.results import (
    REPO_ROOT,
    Row,
    Section,
    Target,
    millis,
    python_command,
    rate,
)
from flightlog.config import Settings
from flightlog.server.ingest import JSON, prepare_batch, prepare_single
from flightlog.service import Flightlog, PreparedEvent

SINGLE_CLIENTS = 64
BATCH_CLIENTS = 4
BATCH_EVENTS = 1000
WARMUP_SECONDS = 1.0
STARTUP_TIMEOUT = 60.0
TARGET_SINGLE_RATE = 3000
TARGET_SINGLE_P99 = 0.100
TARGET_BATCH_RATE = 20_000
TARGET_RAW_RATIO = 0.5
WRK = shutil.which("wrk")
WRK_SCRIPT = REPO_ROOT / "bench" / "ingest.lua"
WRK_RESULT = "flightlog-wrk "
FLIGHTLOG = str(Path(os.environ.get("VIRTUAL_ENV", REPO_ROOT / ".venv")) / "bin" / "flightlog")


# -- the HTTP ceilings -----------------------------------------------------------------------


async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A plain ASGI app: read and parse the body of any POST, answer 201 (GET: 200)."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    status = 200
    if scope["method"] == "POST":
        json.loads(b"".join(chunks))
        status = 201
    body = b'{"index":0}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def noop_app() -> FastAPI:
    """A FastAPI app with the ingest routes' paths that only read the body and answer 201."""
    app = FastAPI()

    @app.post("/api/v1/events", status_code=201)
    async def one(request: Request) -> dict[str, int]:
        await request.body()
        return {"index": 0}

    @app.post("/api/v1/events/batch", status_code=201)
    async def batch(request: Request) -> Response:
        await request.body()
        return Response(b'{"results":[]}', status_code=201, media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


# -- processes ---------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of ``pid`` and its descendants so far; None off Linux."""
    proc = Path("/proc")
    if not (proc / str(pid) / "stat").exists():
        return None
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in proc.glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # Fields after the parenthesised command name: state, ppid, ... utime, stime.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            child = int(stat.parent.name)
            parents[child] = int(fields[1])
            times[child] = (int(fields[11]) + int(fields[12])) / tick
    family, total = {pid}, 0.0
    for child in sorted(times):
        ancestor = child
        while ancestor not in family and ancestor in parents and ancestor > 1:
            ancestor = parents[ancestor]
        if ancestor in family:
            family.add(child)
            total += times[child]
    return total


@contextlib.contextmanager
def running(
    cmd: Sequence[str], env: dict[str, str], log_path: Path, port: int
) -> Iterator[tuple[str, int]]:
    """Start ``cmd``, wait until ``/healthz`` answers, yield base URL and pid, then stop it."""
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{cmd[0]} exited with {proc.returncode}: "
                        f"{log_path.read_text(encoding='utf-8', errors='replace')[-2000:]}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{cmd[0]} did not answer on {base} in time")
                time.sleep(0.2)
            yield base, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def create_token(env: dict[str, str], scope: str = "ingest") -> str:
    """A token (``ingest`` by default) created with ``flightlog token create`` on the server's store."""
    name = f"bench-{uuid.uuid4().hex[:8]}"
    done = subprocess.run(
        [FLIGHTLOG, "token", "create", "--name", name, "--scope", scope, "--json"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"flightlog token create failed: {done.stderr.strip()}")
    token: str = json.loads(done.stdout)["token"]
    return token


# -- load --------------------------------------------------------------------------------


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def _wrk(base: str, token: str, *, batch: int, clients: int, seconds: float, tag: str) -> Load:
    """One load phase from wrk running ``bench/ingest.lua``."""
    assert WRK is not None
    env = dict(os.environ)
    env.update(
        {
            "FLIGHTLOG_BENCH_TOKEN": token,
            "FLIGHTLOG_BENCH_RUN": tag.replace(" ", "-"),
            "FLIGHTLOG_BENCH_BATCH": str(batch),
        }
    )
    # One wrk thread: the generator should take as little of the two CPUs as it can.
    cmd = [WRK, "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "30s"]
    cmd += ["-s", str(WRK_SCRIPT), base]
    done = subprocess.run(
        cmd, env=env, capture_output=True, text=True, check=False, timeout=seconds + 120
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith(WRK_RESULT)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {(done.stderr or done.stdout)[-500:]}")
    found = json.loads(line[len(WRK_RESULT) :])
    ok = found["requests"] - found["failed"]
    return Load(
        seconds=found["micros"] / 1e6,
        requests=found["requests"],
        events=ok * batch,
        errors=found["failed"] + found["socket_errors"],
        first_error=found["first_failure"]
        or (f"{found['socket_errors']} socket errors" if found["socket_errors"] else ""),
        p50=found["p50_us"] / 1e6,
        p99=found["p99_us"] / 1e6,
    )


def single_bodies(tag: str) -> Callable[[], tuple[bytes, int]]:
    """A generator of distinct one-event bodies."""
    counter = itertools.count()

    def next_body() -> tuple[bytes, int]:
        return json.dumps(gen.service_deployed(next(counter), run=tag)).encode(), 1

    return next_body


def batch_bodies(tag: str) -> Callable[[], tuple[bytes, int]]:
    """A generator of distinct 1,000-event JSON array bodies."""
    counter = itertools.count()

    def next_body() -> tuple[bytes, int]:
        start = next(counter) * BATCH_EVENTS
        return gen.json_array(gen.events(start, BATCH_EVENTS, run=tag)), BATCH_EVENTS

    return next_body


@dataclass(frozen=True)
class Phases:
    """The two load phases against one server."""

    single: Load
    batch: Load


def load_server(
    base: str, token: str, seconds: float, tag: str, console: Console, pid: int
) -> Phases:
    """Warm up, then run the single-event phase and the batch phase against ``base``."""
    if WRK is not None:
        with console.status(f"{tag}: wrk, single events x{SINGLE_CLIENTS}, then batches"):
            _wrk(
                base, token, batch=1, clients=SINGLE_CLIENTS, seconds=WARMUP_SECONDS, tag=tag + "-w"
            )
            before = cpu_seconds(pid)
            single = _wrk(
                base, token, batch=1, clients=SINGLE_CLIENTS, seconds=seconds, tag=tag + "-s"
            )
            middle = cpu_seconds(pid)
            batch = _wrk(
                base,
                token,
                batch=BATCH_EVENTS,
                clients=BATCH_CLIENTS,
                seconds=seconds,
                tag=tag + "-b",
            )
            after = cpu_seconds(pid)
        if before is not None and middle is not None and after is not None:
            single.cpu, batch.cpu = middle - before, after - middle
        return Phases(single, batch)
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        asyncio.run(
            drive(
                base,
                headers=_auth(token),
                path="/api/v1/events",
                clients=SINGLE_CLIENTS,
                seconds=WARMUP_SECONDS,
                body=single_bodies(f"{tag}-warm"),
                progress=None,
                label="",
            )
        )
        before = cpu_seconds(pid)
        single = asyncio.run(
            drive(
                base,
                headers=_auth(token),
                path="/api/v1/events",
                clients=SINGLE_CLIENTS,
                seconds=seconds,
                body=single_bodies(f"{tag}-one"),
                progress=progress,
                label=f"{tag}: single events x{SINGLE_CLIENTS}",
            )
        )
        middle = cpu_seconds(pid)
        batch = asyncio.run(
            drive(
                base,
                headers=_auth(token),
                path="/api/v1/events/batch",
                clients=BATCH_CLIENTS,
                seconds=seconds,
                body=batch_bodies(f"{tag}-batch"),
                progress=progress,
                label=f"{tag}: batches x{BATCH_CLIENTS}",
            )
        )
        after = cpu_seconds(pid)
    if before is not None and middle is not None and after is not None:
        single.cpu, batch.cpu = middle - before, after - middle
    return Phases(single, batch)


# -- storage ceilings ------------------------------------------------------------------------

_ROW_SQL = (
    "CREATE TABLE entries (idx BIGINT NOT NULL PRIMARY KEY, event_id TEXT NOT NULL, "
    "source TEXT NOT NULL, payload_sha256 VARCHAR(64) NOT NULL, payload {blob}, "
    "UNIQUE (event_id, source))"
)


def _rows(seconds: float, insert: Callable[[int, bytes], None]) -> float:
    body = json.dumps(gen.service_deployed(0)).encode()
    started = time.perf_counter()
    deadline, n = started + seconds, 0
    while time.perf_counter() < deadline:
        insert(n, body)
        n += 1
    return n / (time.perf_counter() - started)


def sqlite_ceiling(path: Path, seconds: float) -> float:
    """Single-row insert transactions per second on SQLite (WAL, synchronous=FULL)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(_ROW_SQL.format(blob="BLOB"))

        def insert(n: int, body: bytes) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO entries VALUES (?, ?, ?, ?, ?)", (n, f"e-{n}", "/b", "0" * 64, body)
            )
            conn.execute("COMMIT")

        return _rows(seconds, insert)
    finally:
        conn.close()


def postgres_ceiling(dsn: str, seconds: float) -> float:
    """Single-row insert transactions per second on PostgreSQL (autocommit)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(_ROW_SQL.format(blob="BYTEA"))

        def insert(n: int, body: bytes) -> None:
            conn.execute(
                "INSERT INTO entries VALUES (%s, %s, %s, %s, %s)",
                (n, f"e-{n}", "/b", "0" * 64, body),
            )

        return _rows(seconds, insert)


# -- where a single event's CPU goes ----------------------------------------------------------

PROFILE_EVENTS = 2048
PROFILE_BATCHES = 8
GROWN_EVENTS = 150_000
"""About what the store holds during the served batch phase (single events, then batches)."""
GROUP = SINGLE_CLIENTS


@dataclass(frozen=True)
class CpuShares:
    """CPU seconds per event of the ingest steps, measured in this process."""

    prepare: float  # parse, RFC 8785 bytes, schema check, refs (prepare_single)
    append: float  # record_groups with groups of one event, SINGLE_CLIENTS a commit
    projections: float  # of ``append``: the projections (lineage) run inside the append
    app_loop: float  # create_app driven as ASGI: the event loop's CPU per request
    app_total: float  # the same run: the whole process's CPU per request (writer included)
    app_per_commit: float = 0.0  # the same run: requests per append transaction (writer round trip)
    app_switches: float = 0.0  # the same run: context switches per request
    batch_prepare: float = 0.0  # prepare_batch of 1,000-event bodies, per event
    batch_append: float = 0.0  # record_groups of one 1,000-event group a commit, per event
    batch_append_rate: float = 0.0  # the same appends: events per second of wall time
    batch_append_grown: float = 0.0  # the same append once the store holds GROWN_EVENTS


def _append_cpu(service: Flightlog, prepared: Sequence[PreparedEvent]) -> float:
    started = time.process_time()
    for i in range(0, len(prepared), GROUP):
        service.record_groups([[p] for p in prepared[i : i + GROUP]])
    return (time.process_time() - started) / len(prepared)


def cpu_shares(scratch: Path) -> CpuShares:
    """Time prepare_single, record_groups (with and without projections) and the app."""
    home = scratch / "profile.home"
    shutil.rmtree(home, ignore_errors=True)
    db = fresh_file(scratch, "profile.db")
    settings = Settings(database_url=f"sqlite:///{db}", home=home)
    bodies = [
        json.dumps(gen.service_deployed(n, run="cpu")).encode() for n in range(PROFILE_EVENTS)
    ]
    with Flightlog.open(settings) as service:
        started = time.process_time()
        prepared = [prepare_single(JSON, body, None) for body in bodies]
        prepare = (time.process_time() - started) / len(bodies)
        half = len(prepared) // 2
        append = _append_cpu(service, prepared[:half])
        projections = service.store.projections[:]
        service.store.projections.clear()
        try:
            bare = _append_cpu(service, prepared[half:])
        finally:
            service.store.projections.extend(projections)
        batch = _batch_cpu(service)
    app = asgi_ingest.run_once(None, asgi_ingest.Load(requests=PROFILE_EVENTS))
    return CpuShares(
        prepare,
        append,
        max(append - bare, 0.0),
        app.loop_cpu_seconds / app.requests,
        app.cpu_seconds / app.requests,
        app.requests_per_commit,
        app.switches_per_request,
        *batch,
    )


def _batches(first: int, count: int) -> list[bytes]:
    return [
        gen.json_array(gen.events(i * BATCH_EVENTS, BATCH_EVENTS, run="cpu-batch"))
        for i in range(first, first + count)
    ]


def _batch_cpu(service: Flightlog) -> tuple[float, float, float, float]:
    """Per event: prepare_batch's CPU, the append's CPU and rate (wall), on a grown store.

    The append costs more as the store grows (its indexes and the lineage tables): the
    last figure is the append's CPU once the store holds :data:`GROWN_EVENTS` events.
    """
    events = PROFILE_BATCHES * BATCH_EVENTS
    started = time.process_time()
    batches = [prepare_batch(JSON, body) for body in _batches(0, PROFILE_BATCHES)]
    prepare = (time.process_time() - started) / events
    cpu, wall = time.process_time(), time.perf_counter()
    for batch in batches:
        service.record_groups([batch])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    grown = GROWN_EVENTS // BATCH_EVENTS
    for body in _batches(PROFILE_BATCHES, grown - PROFILE_BATCHES):
        service.record_groups([prepare_batch(JSON, body)])
    batches = [prepare_batch(JSON, body) for body in _batches(grown, PROFILE_BATCHES)]
    started = time.process_time()
    for batch in batches:
        service.record_groups([batch])
    grown_cpu = (time.process_time() - started) / events
    return prepare, cpu / events, events / wall, grown_cpu


def _cpu_rows(section: Section, shares: CpuShares, raw: Phases, ours: Phases) -> None:
    total, http = ours.single.cpu_per_request, raw.single.cpu_per_request
    if total is None or http is None:
        return
    rest = total - http - shares.prepare - shares.append
    for step, cpu, note in (
        ("HTTP server + ASGI (the raw ceiling's own CPU)", http, "uvicorn, httptools, uvloop"),
        ("parse + canonical bytes + schema + refs", shares.prepare, "prepare_single, in process"),
        (
            "append",
            shares.append,
            f"record_groups, {GROUP} one-event groups a commit; of which the lineage "
            f"projection {shares.projections * 1e6:,.0f} µs (measured without it on the same "
            "store)",
        ),
        (
            "the rest",
            rest,
            "fast path, auth, logging, metrics, writer hand-offs; in process "
            f"{shares.app_per_commit:,.1f} requests share one writer round trip and the "
            f"process switches context {shares.app_switches:.2f} times per request",
        ),
    ):
        section.rows.append(
            Row(
                f"SQLite single event CPU: {step}",
                f"{cpu * 1e6:,.0f} µs",
                f"{cpu / total:.0%} of {total * 1e6:,.0f} µs per request; {note}",
            )
        )
    for step, cpu, note in (
        (
            "parse + canonical bytes + schema + refs",
            shares.batch_prepare,
            "prepare_batch of 1,000-event bodies, in process",
        ),
        (
            "append",
            shares.batch_append,
            "record_groups, one 1,000-event group a commit, in process, on a fresh store",
        ),
        (
            f"append on a store of {GROWN_EVENTS:,} events",
            shares.batch_append_grown,
            "the same appends once the store holds about what it holds in the served "
            "batch phase (events in time order, as a ledger receives them)",
        ),
    ):
        section.rows.append(
            Row(f"SQLite batch CPU per event: {step}", f"{cpu * 1e6:,.1f} µs", note)
        )
    section.rows.append(
        Row(
            "storage ceiling: flightlog append alone, 1,000-event transactions",
            rate(shares.batch_append_rate),
            "record_groups in a loop on a fresh SQLite file, nothing else in the process: "
            "what one writer commits per second (wall time, fsync included)",
        )
    )
    section.rows.append(
        Row(
            "SQLite single event CPU, in process (no HTTP server)",
            f"{shares.app_total * 1e6:,.0f} µs",
            f"create_app driven as ASGI, {asgi_ingest.Load().concurrency} requests in flight "
            f"(bench/asgi_ingest.py): event loop {shares.app_loop * 1e6:,.0f} µs per request, "
            "the rest in the writer thread",
        )
    )


def _share_notes(section: Section, shares: CpuShares, raw: Phases) -> None:
    """What the measured steps allow, whatever else the machine runs: the targets' ceilings."""
    http = raw.single.cpu_per_request
    if http:
        floor = shares.prepare + shares.append
        section.notes.append(
            f"The raw ASGI ratio from CPU: {TARGET_RAW_RATIO} x the raw app's rate needs at "
            f"most {1 / TARGET_RAW_RATIO:.0f} x its CPU per request "
            f"({http / TARGET_RAW_RATIO * 1e6:,.0f} µs), since both share the same cores "
            f"with the same generator; validating ({shares.prepare * 1e6:,.0f} µs) and "
            f"appending ({shares.append * 1e6:,.0f} µs) one event cost {floor * 1e6:,.0f} µs "
            f"in process before any request handling, {floor / http:.1f} x the raw app's "
            "whole request."
        )
    append = max(shares.batch_append, shares.batch_append_grown)
    per_event = append + shares.batch_prepare
    section.notes.append(
        f"Batch ceiling from the append alone: one writer spends "
        f"{shares.batch_append * 1e6:,.1f} µs of CPU per event in 1,000-event transactions "
        f"on a fresh store ({shares.batch_append_grown * 1e6:,.1f} µs once it holds "
        f"{GROWN_EVENTS:,} events, at most {1 / append:,.0f} events/s for the writer "
        f"alone) and committed {rate(shares.batch_append_rate)} in wall time with nothing "
        f"else running in its process; with the parse, canonical bytes, schema and refs "
        f"({shares.batch_prepare * 1e6:,.1f} µs) that is {per_event * 1e6:,.1f} µs per event "
        f"before any HTTP. {TARGET_BATCH_RATE:,} events/s needs "
        f"{1e6 / TARGET_BATCH_RATE:,.0f} µs per event on one core, or "
        f"{2e6 / TARGET_BATCH_RATE:,.0f} µs on both cores with nothing else on them "
        "(wrk and the other processes on the machine included)."
    )


def _ceiling_notes(section: Section, ours: Phases, raw: Phases) -> None:
    """What the measured CPU per request allows one process, whatever the machine's load."""
    single, batch = ours.single.cpu_per_request, ours.batch.cpu_per_request
    if single is None or batch is None or not raw.single.cpu_per_request:
        return
    per_event = batch / BATCH_EVENTS
    section.notes.append(
        f"Ceilings from CPU time, not from rates: one server process spends "
        f"{single * 1e6:,.0f} µs of CPU per single-event request, so on a whole core of "
        f"its own it could answer at most {1 / single:,.0f} requests/s; the raw ASGI app "
        f"spends {raw.single.cpu_per_request * 1e6:,.0f} µs "
        f"({1 / raw.single.cpu_per_request:,.0f}/s). Batches cost {per_event * 1e6:,.0f} µs "
        f"per event, at most {1 / per_event:,.0f} events/s per core; "
        f"{TARGET_BATCH_RATE:,} events/s needs {1e6 / TARGET_BATCH_RATE:,.0f} µs."
    )


# -- the benchmark ------------------------------------------------------------------------


def _phase_rows(section: Section, name: str, phases: Phases) -> None:
    for kind, load in (("single events", phases.single), ("1,000-event batches", phases.batch)):
        note = (
            f"{load.requests:,} requests in {load.seconds:.1f} s; "
            f"p50 {millis(load.percentile(50))}, p99 {millis(load.percentile(99))}"
        )
        per_request = load.cpu_per_request
        if per_request is not None:
            note += f"; server CPU {per_request * 1e6:,.0f} µs per request"
        if load.errors:
            note += f"; {load.errors:,} errors, first: {load.first_error}"
        section.rows.append(Row(f"{name}: {kind}", rate(load.rate), note))


def _server_env(database_url: str, home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"FLIGHTLOG_DATABASE_URL": database_url, "FLIGHTLOG_HOME": str(home)})
    return env


def _config_name(store: str, workers: int, processes: int) -> str:
    name = f"{store}, {workers} worker{'s' if workers > 1 else ''}"
    if processes:
        name += f", {processes} prepare process{'es' if processes > 1 else ''}"
    return name


def _flightlog_phases(
    database_url: str,
    scratch: Path,
    name: str,
    seconds: float,
    workers: int,
    console: Console,
    prepare_processes: int = 0,
) -> Phases:
    home = scratch / f"{name}.home"
    shutil.rmtree(home, ignore_errors=True)
    env = _server_env(database_url, home)
    token = create_token(env)
    port = free_port()
    cmd = [FLIGHTLOG, "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(workers), "--prepare-processes", str(prepare_processes)]
    with running(cmd, env, scratch / f"{name}.log", port) as (base, pid):
        return load_server(base, token, seconds, name, console, pid)


def _judge(section: Section, name: str, phases: Phases, raw: Phases) -> None:
    single, batch = phases.single, phases.batch
    p99 = single.percentile(99)
    ratio = single.rate / max(raw.single.rate, 1e-9)
    section.targets += [
        Target(
            f"{name}: single events >= {TARGET_SINGLE_RATE:,} ev/s, p99 < 100 ms",
            f"{rate(single.rate)}, p99 {millis(p99)}",
            single.errors == 0 and single.rate >= TARGET_SINGLE_RATE and p99 < TARGET_SINGLE_P99,
        ),
        Target(
            f"{name}: single events >= {TARGET_RAW_RATIO} x raw ASGI ceiling",
            f"{ratio:.2f} x",
            single.errors == 0 and ratio >= TARGET_RAW_RATIO,
        ),
        Target(
            f"{name}: batches >= {TARGET_BATCH_RATE:,} ev/s",
            rate(batch.rate),
            batch.errors == 0 and batch.rate >= TARGET_BATCH_RATE,
        ),
    ]


def _ceiling(flag: str, name: str, scratch: Path, seconds: float, console: Console) -> Phases:
    port = free_port()
    cmd = python_command("server", flag, str(port))
    with running(cmd, dict(os.environ), scratch / f"{name}.log", port) as (base, pid):
        return load_server(base, "unused", seconds, name, console, pid)


def run(config: BenchConfig, console: Console) -> Section:
    """Measure HTTP ingest on SQLite and PostgreSQL with the HTTP and storage ceilings."""
    seconds = config.server_seconds
    scratch = config.data_dir / "server"
    scratch.mkdir(parents=True, exist_ok=True)
    section = Section(
        "server",
        "HTTP ingest (flightlog serve on 127.0.0.1)",
        {
            "seconds per phase": f"{seconds:g}",
            "single-event clients": str(SINGLE_CLIENTS),
            "batch clients": str(BATCH_CLIENTS),
            "events per batch": f"{BATCH_EVENTS:,}",
            "load generator": "wrk -t1 + bench/ingest.lua" if WRK else "built-in (asyncio)",
        },
    )
    if WRK is None:
        console.print(
            "wrk not found: using the built-in Python load generator, which bounds the "
            "figures lower (install wrk, e.g. `apt-get install wrk`, for the stated targets)."
        )
        section.notes.append(
            "wrk was not installed: the built-in asyncio load generator drove the load; it "
            "takes more CPU per request than wrk, so every figure here is lower than wrk's."
        )
    storage_seconds = min(seconds, 5.0)

    raw = _ceiling("--serve-raw", "raw ASGI", scratch, seconds, console)
    _phase_rows(section, "raw ASGI ceiling (read + parse body, 201; uvicorn)", raw)
    fastapi = _ceiling("--serve-noop", "FastAPI", scratch, seconds, console)
    _phase_rows(section, "FastAPI ceiling (no-op endpoint; uvicorn)", fastapi)
    sqlite_rows = sqlite_ceiling(fresh_file(scratch, "ceiling.db"), storage_seconds)
    section.rows.append(
        Row("storage ceiling: sqlite3 single-row transactions", rate(sqlite_rows), "WAL, FULL")
    )

    for workers, processes in ((1, 0), (2, 0), (1, 1)):
        name = _config_name("SQLite", workers, processes)
        tag = f"sqlite{workers}p{processes}"
        db = fresh_file(scratch, f"{tag}.db")
        try:
            phases = _flightlog_phases(
                f"sqlite:///{db}", scratch, tag, seconds, workers, console, processes
            )
        except RuntimeError as exc:
            section.notes.append(f"flightlog serve on {name} could not run: {exc}")
            continue
        _phase_rows(section, f"flightlog serve, {name}", phases)
        _ratios(section, name, phases, raw, sqlite_rows)
        _judge(section, name, phases, raw)
        if (workers, processes) == (1, 0):
            with console.status("CPU per event of prepare and append, in process"):
                shares = cpu_shares(scratch)
            _cpu_rows(section, shares, raw, phases)
            _ceiling_notes(section, phases, raw)
            _share_notes(section, shares, raw)

    url = config.postgres_url
    problem = postgres_reachable(url) if url is not None else "skipped"
    if url is None or problem is not None:
        section.notes.append(f"PostgreSQL not measured: {problem}.")
        return section
    with pg_schema(url, "ceiling") as scoped:
        pg_rows = postgres_ceiling(libpq_dsn(scoped), storage_seconds)
    section.rows.append(
        Row("storage ceiling: psycopg single-row transactions", rate(pg_rows), "autocommit")
    )
    for workers in (1, 2):
        name = _config_name("PostgreSQL", workers, 0)
        with pg_schema(url, f"server{workers}") as scoped:
            try:
                phases = _flightlog_phases(
                    scoped, scratch, f"pg{workers}", seconds, workers, console
                )
            except RuntimeError as exc:
                section.notes.append(f"flightlog serve on {name} could not run: {exc}")
                continue
        _phase_rows(section, f"flightlog serve, {name}", phases)
        _ratios(section, name, phases, raw, pg_rows)
        _judge(section, name, phases, raw)
    section.notes.append(
        "The load generator shares the two CPUs with the server; every ceiling is measured "
        "with the same generator in the same run, so the ratios are the figures to compare."
    )
    return section


def _ratios(section: Section, name: str, phases: Phases, raw: Phases, rows: float) -> None:
    note = f"single events / storage ceiling: {phases.single.rate / max(rows, 1e-9):.2f} x"
    ours, theirs = phases.single.cpu_per_request, raw.single.cpu_per_request
    if ours is not None and theirs:
        # CPU per request is steadier than rates on a shared machine.
        note += f"; server CPU per single-event request: {ours / theirs:.1f} x raw ASGI's"
    section.rows.append(
        Row(
            f"{name}: ratios",
            f"{phases.single.rate / max(raw.single.rate, 1e-9):.2f} x raw ASGI (single), "
            f"{phases.batch.rate / max(raw.batch.rate, 1e-9):.2f} x raw ASGI (batch)",
            note,
        )
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run only this benchmark (``python -m bench.server``), or serve a ceiling app."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=BenchConfig.server_seconds)
    parser.add_argument("--serve-noop", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve-raw", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_noop is not None or args.serve_raw is not None:
        import uvicorn

        # The same HTTP server and options as ``flightlog serve``.
        app = noop_app() if args.serve_noop is not None else raw_app
        port = args.serve_noop if args.serve_noop is not None else args.serve_raw
        uvicorn.run(
            app, host="127.0.0.1", port=port, access_log=False, loop="uvloop", http="httptools"
        )
        return
    config = BenchConfig(server_seconds=args.seconds)
    run_alone(run, config)


if __name__ == "__main__":
    main()
