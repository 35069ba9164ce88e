"""Full verification on several cores: whole chunks are checked in worker processes.

Each worker opens the store once and checks one run of chunks per task inside its own
read snapshot; the calling process folds the results in ledger order (see
:func:`flightlog.ledger.audit.verify_log`). Rows below the verified tree size never
change, so per-task snapshots see the same entries one snapshot would.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

from flightlog.ledger.audit import ChunkRun, ChunkRunner, verify_chunks
from flightlog.store.engine import create_engine
from flightlog.store.ledger import LedgerStore

_worker_store: LedgerStore | None = None


def _open_worker(url: str) -> None:
    global _worker_store  # noqa: PLW0603 - one store per worker process, opened once
    _worker_store = LedgerStore(create_engine(url))


def _check(task: tuple[int, int], erased: tuple[int, ...]) -> ChunkRun:
    store = _worker_store
    if store is None:  # pragma: no cover - the pool initializer always runs first
        raise RuntimeError("verification worker used before it was opened")
    with store.snapshot() as snap:
        return verify_chunks(snap, task[0], task[1], erased)


@contextmanager
def process_runner(url: str, workers: int, erased: Iterable[int]) -> Iterator[ChunkRunner]:
    """A chunk runner backed by ``workers`` processes reading the store at ``url``."""
    frozen = tuple(erased)
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_open_worker,
        initargs=(url,),
    )

    def run(ranges: Sequence[tuple[int, int]]) -> Iterator[ChunkRun]:
        return pool.map(_check, ranges, itertools.repeat(frozen))

    try:
        yield run
    finally:
        # After the first problem nothing else needs checking.
        pool.shutdown(wait=True, cancel_futures=True)
