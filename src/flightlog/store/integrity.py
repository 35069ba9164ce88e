"""The derived-index check of large logs on several cores (see ``ledger/integrity.py``).

Re-deriving refs parses every payload, which costs more than hashing it; worker
processes each check ranges of entries inside their own read snapshot. An entry's
payload and refs change together (an erasure drops both in one transaction), so a
per-range snapshot sees them consistently.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from flightlog.ledger.audit import Problem
from flightlog.ledger.integrity import derived_range_problem
from flightlog.store.engine import create_engine
from flightlog.store.ledger import LedgerStore

TASK_ENTRIES = 50_000
"""Entries per unit of work handed to a worker."""

_worker_store: LedgerStore | None = None


def _open_worker(url: str) -> None:
    global _worker_store  # noqa: PLW0603 - one store per worker process, opened once
    _worker_store = LedgerStore(create_engine(url))


def _check(task: tuple[int, int]) -> Problem | None:
    store = _worker_store
    if store is None:  # pragma: no cover - the pool initializer always runs first
        raise RuntimeError("integrity worker used before it was opened")
    with store.snapshot() as snap:
        return derived_range_problem(snap, task[0], task[1])


def parallel_derived_problem(
    url: str, size: int, workers: int, task_entries: int = TASK_ENTRIES
) -> Problem | None:
    """The first derived-index problem of entries ``[0, size)``, checked by ``workers``."""
    ranges = [(s, min(s + task_entries, size)) for s in range(0, size, task_entries)]
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_open_worker,
        initargs=(url,),
    )
    try:
        for problem in pool.map(_check, ranges):
            if problem is not None:
                return problem
        return None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
