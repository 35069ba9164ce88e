"""Full verification on several cores: whole chunks are checked in worker processes.

Each worker opens the store once and checks one run of chunks per task inside its own
read snapshot, the Merkle part and then the indexes derived from the same entries (refs,
time), so one pool and one pass over the log do both; the calling process folds the
results in ledger order (see :func:`flightlog.ledger.audit.verify_log`). Rows below the
verified tree size never change, so per-task snapshots see the same entries one snapshot
would. On SQLite a worker reads the file with the ``sqlite3`` module alone, so it never
loads the SQL toolkit and stays small.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, contextmanager

from flightlog.ledger.audit import CHUNK, ChunkRun, ChunkRunner, verify_chunks
from flightlog.ledger.integrity import derived_range_problem
from flightlog.store.snapshot import LedgerSnapshot

_worker_snapshot: Callable[[], AbstractContextManager[LedgerSnapshot]] | None = None


@contextmanager
def _sqlite_snapshot(conn: sqlite3.Connection) -> Iterator[LedgerSnapshot]:
    conn.execute("BEGIN")
    try:
        yield LedgerSnapshot(conn, "?")
    finally:
        conn.execute("ROLLBACK")


def _open_worker(url: str, sqlite_path: str | None) -> None:
    global _worker_snapshot  # noqa: PLW0603 - one store per worker process, opened once
    if sqlite_path is not None:
        conn = sqlite3.connect(sqlite_path, isolation_level=None, timeout=30)
        conn.execute("PRAGMA query_only=ON")
        _worker_snapshot = lambda: _sqlite_snapshot(conn)  # noqa: E731 - bound to this worker
        return
    from flightlog.store.engine import create_engine
    from flightlog.store.ledger import LedgerStore

    _worker_snapshot = LedgerStore(create_engine(url)).snapshot


def checked_run(source: LedgerSnapshot, first: int, end: int, erased: Iterable[int]) -> ChunkRun:
    """Check chunks ``first`` to ``end - 1``, then (if they hold) the indexes of their entries."""
    run = verify_chunks(source, first, end, erased)
    if run.problem is not None:
        return run
    return dataclasses.replace(
        run, derived=derived_range_problem(source, first * CHUNK, end * CHUNK)
    )


def _check(task: tuple[int, int], erased: tuple[int, ...]) -> ChunkRun:
    snapshot = _worker_snapshot
    if snapshot is None:  # pragma: no cover - the pool initializer always runs first
        raise RuntimeError("verification worker used before it was opened")
    with snapshot() as snap:
        return checked_run(snap, task[0], task[1], erased)


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

    ``sqlite_path``: the file of an SQLite store, read by the workers directly.
    ``local``: a snapshot this process checks every ``workers + 1``-th run of chunks
    from, so N-way parallelism costs N - 1 extra processes (and their memory).
    """
    frozen = tuple(erased)
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_open_worker,
        initargs=(url, sqlite_path),
    )
    share = workers + 1

    def run(ranges: Sequence[tuple[int, int]]) -> Iterator[ChunkRun]:
        remote = {
            k: pool.submit(_check, r, frozen)
            for k, r in enumerate(ranges)
            if local is None or k % share
        }
        for k, (first, end) in enumerate(ranges):
            future = remote.get(k)
            if future is not None:
                yield future.result()
            else:
                assert local is not None
                yield checked_run(local, first, end, frozen)

    try:
        yield run
    finally:
        # After the first problem nothing else needs checking.
        pool.shutdown(wait=True, cancel_futures=True)
