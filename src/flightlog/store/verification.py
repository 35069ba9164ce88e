"""Full verification on several cores: shares of whole chunks are checked in worker processes.

Each worker opens the store once and checks one share of chunks per task inside its own
read snapshot: the Merkle part and the indexes derived from the same rows (refs, time),
read once, so one pool and one pass over the log do both. The calling process checks
shares too whenever the next result it owes is not ready, and folds the results in
ledger order (see :func:`flightlog.ledger.audit.verify_log`). Rows below the verified
tree size never change, so per-task snapshots see the same entries one snapshot would.
On SQLite a worker reads the file with the ``sqlite3`` module alone, so it never loads
the SQL toolkit and stays small.
"""

from __future__ import annotations

import gc
import multiprocessing
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from typing import Any

from flightlog.ledger.audit import ChunkRun, ChunkRunner, Problem, verify_chunks
from flightlog.ledger.integrity import rows_problem
from flightlog.store.snapshot import ROW_TABLES, LedgerSnapshot

_worker_snapshot: Callable[[], AbstractContextManager[LedgerSnapshot]] | None = None


@contextmanager
def _sqlite_snapshot(conn: sqlite3.Connection) -> Iterator[LedgerSnapshot]:
    conn.execute("BEGIN")
    try:
        yield LedgerSnapshot(conn, "?")
    finally:
        conn.execute("ROLLBACK")


@contextmanager
def _postgres_snapshot(conn: Any) -> Iterator[LedgerSnapshot]:
    # As LedgerStore.snapshot: one REPEATABLE READ, READ ONLY transaction.
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        yield LedgerSnapshot(conn, "%s")
    finally:
        conn.execute("ROLLBACK")


def _open_worker(conninfo: str, sqlite_path: str | None) -> None:
    global _worker_snapshot  # noqa: PLW0603 - one store per worker process, opened once
    if sqlite_path is not None:
        conn = sqlite3.connect(sqlite_path, isolation_level=None, timeout=30)
        conn.execute("PRAGMA query_only=ON")
        _worker_snapshot = lambda: _sqlite_snapshot(conn)  # noqa: E731 - bound to this worker
        return
    import psycopg

    server = psycopg.connect(conninfo, autocommit=True)
    _worker_snapshot = lambda: _postgres_snapshot(server)  # noqa: E731 - bound to this worker


CellFound = tuple[str, int | None] | None
"""``(table, index)`` of a cell of the wrong storage type, or None."""


def _scan_row_cells(sqlite_path: str) -> CellFound:
    conn = sqlite3.connect(sqlite_path, isolation_level=None, timeout=30)
    try:
        conn.execute("PRAGMA query_only=ON")
        with _sqlite_snapshot(conn) as snap:
            return snap.malformed_cell(ROW_TABLES)
    finally:
        conn.close()


@contextmanager
def row_cells_checked(
    sqlite_path: str | None, snapshot: Callable[[], AbstractContextManager[LedgerSnapshot]]
) -> Iterator[Callable[[], CellFound]]:
    """Check the cells of every entry and ref row while the caller goes on; yields a call
    that waits for the answer.

    On an SQLite file the check runs in a thread on a connection of its own: SQLite lets
    other Python threads run while it scans, so the scan (a full read of both tables,
    about a tenth of a verification) takes a core of its own instead of going first.
    Elsewhere it runs here, first (on PostgreSQL it has nothing to check).
    """
    if sqlite_path is None:
        with snapshot() as snap:
            found = snap.malformed_cell(ROW_TABLES)
        yield lambda: found
        return
    with ThreadPoolExecutor(max_workers=1) as scanner:
        yield scanner.submit(_scan_row_cells, sqlite_path).result


def _libpq_conninfo(url: str) -> str:
    """The libpq URI of a PostgreSQL store's SQLAlchemy URL (workers use the driver alone)."""
    from flightlog.store.engine import parse_database_url

    return parse_database_url(url).set(drivername="postgresql").render_as_string(False)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cycle collector (if it runs) for one run of chunks.

    A run allocates hundreds of thousands of short-lived objects (rows, parsed payloads,
    refs) that hold no cycles and are freed as soon as a chunk is done; the collector's
    passes over them found nothing and cost about a fifth of the run's time.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def checked_run(source: LedgerSnapshot, first: int, end: int, erased: Iterable[int]) -> ChunkRun:
    """Check chunks ``first`` to ``end - 1`` and the indexes derived from their entries."""
    with _collector_paused():
        return verify_chunks(source, first, end, erased, partial(rows_problem, source))


def local_runner(source: LedgerSnapshot, erased: Iterable[int]) -> ChunkRunner:
    """A chunk runner checking every run here, in one snapshot, indexes included."""
    frozen = tuple(erased)

    def run(ranges: Sequence[tuple[int, int]]) -> Iterator[ChunkRun]:
        for first, end in ranges:
            yield checked_run(source, first, end, frozen)

    return run


def _check(task: tuple[int, int], erased: tuple[int, ...]) -> ChunkRun:
    snapshot = _worker_snapshot
    if snapshot is None:  # pragma: no cover - the pool initializer always runs first
        raise RuntimeError("verification worker used before it was opened")
    with snapshot() as snap:
        return checked_run(snap, task[0], task[1], erased)


SHARE_CHUNKS = 8
"""Whole chunks per unit of work shared between processes (32,768 entries): large enough
that handing one out costs nothing, small enough that both cores stay busy."""

TAIL_CHUNKS = 2 * SHARE_CHUNKS
"""The last chunks of the log go out one at a time, so no process waits long at the end."""


def _shares(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """``(range number, first, end)`` of the shares each range is cut into, in order."""
    last = ranges[-1][1] if ranges else 0
    shares: list[tuple[int, int, int]] = []
    for k, (first, end) in enumerate(ranges):
        c = first
        while c < end:
            step = SHARE_CHUNKS if last - c > TAIL_CHUNKS else 1
            shares.append((k, c, min(c + step, end)))
            c = shares[-1][2]
    return shares


def _joined(runs: Sequence[ChunkRun]) -> ChunkRun:
    """One run made of consecutive ones: it ends at the first problem found."""
    tops: list[bytes] = []
    entries = nodes = 0
    derived: Problem | None = None
    for run in runs:
        tops += run.tops
        entries += run.entries
        nodes += run.nodes
        if run.problem is not None:
            return ChunkRun(tops, entries, nodes, run.problem)
        derived = derived or run.derived
    return ChunkRun(tops, entries, nodes, derived=derived)


@contextmanager
def process_runner(
    url: str,
    workers: int,
    erased: Iterable[int],
    *,
    sqlite_path: str | None = None,
    local: LedgerSnapshot | None = None,
) -> Iterator[ChunkRunner]:
    """A chunk runner backed by ``workers`` processes reading the store at ``url``.

    Each run it yields carries, in ``derived``, the first index drift among its entries.

    ``sqlite_path``: the file of an SQLite store, read by the workers directly; any other
    store is read by the workers through its driver alone, without the SQL toolkit.
    ``local``: a snapshot this process checks shares from while the next result it owes
    is not ready, so N-way parallelism costs N - 1 extra processes (and their memory)
    and every process keeps busy until the last share, however fast each one is.
    """
    frozen = tuple(erased)
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_open_worker,
        initargs=(url if sqlite_path is not None else _libpq_conninfo(url), sqlite_path),
    )

    def run(ranges: Sequence[tuple[int, int]]) -> Iterator[ChunkRun]:
        shares = _shares(ranges)
        waiting = deque(enumerate(shares))
        remote: dict[int, Future[ChunkRun]] = {}
        done: dict[int, ChunkRun] = {}
        owed: list[ChunkRun] = []
        for s, (k, _, _) in enumerate(shares):
            while s not in done:
                # Keep each worker one share ahead; hand shares out in ledger order.
                while waiting and len(remote) < workers + 1:
                    j, (_, first, end) = waiting.popleft()
                    remote[j] = pool.submit(_check, (first, end), frozen)
                future = remote.get(s)
                if future is not None and (future.done() or local is None or not waiting):
                    done[s] = future.result()
                    del remote[s]
                elif local is not None and waiting:
                    j, (_, first, end) = waiting.popleft()
                    done[j] = checked_run(local, first, end, frozen)
            owed.append(done.pop(s))
            if s + 1 == len(shares) or shares[s + 1][0] != k:
                yield _joined(owed)
                owed = []

    try:
        yield run
    finally:
        # After the first problem nothing else needs checking.
        pool.shutdown(wait=True, cancel_futures=True)
