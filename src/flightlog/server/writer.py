"""Group commit: one writer task turns concurrent requests into one append transaction.

Each request submits its prepared events as a group and awaits a future. The writer
takes whatever groups are queued (up to ``max_events`` events, waiting at most
``max_wait`` seconds for more), hands them to ``record_groups`` in a worker thread and
resolves every future only after the transaction committed. A conflicting group fails
only its own request. Across processes (``serve --workers N``) each process has its own
writer and the store serialises the transactions; on SQLite the writers also take turns
on a :class:`CommitLock`, so a waiting writer starts the moment the lock is free instead
of polling SQLite's busy handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import structlog

from flightlog.errors import ConflictError, StoreError
from flightlog.service import AppendResult, PreparedEvent

RecordGroups = Callable[..., list[list[AppendResult] | ConflictError]]
"""``record_groups(groups, blobs=...)``: the store's group commit."""

log = structlog.get_logger("flightlog.server.writer")


class CommitLock:
    """An exclusive ``flock`` on a file, held by one process's writer for each commit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def run(
        self, record_groups: RecordGroups, groups: Sequence[Sequence[PreparedEvent]]
    ) -> list[list[AppendResult] | ConflictError]:
        """Call ``record_groups(groups)`` holding the lock (blocks the calling thread)."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            return record_groups(groups)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the lock file (releasing the lock if held)."""
        os.close(self._fd)


@dataclass
class _Pending:
    group: Sequence[PreparedEvent]
    future: asyncio.Future[list[AppendResult]] = field(repr=False)
    blobs: Sequence[tuple[bytes, str]] = ()


def _settle(pending: _Pending, outcome: list[AppendResult] | BaseException) -> None:
    # A client that went away cancelled its future; its events are committed anyway.
    if pending.future.done():
        return
    if isinstance(outcome, BaseException):
        pending.future.set_exception(outcome)
    else:
        pending.future.set_result(outcome)


class GroupWriter:
    """The one in-process appender; requests await :meth:`submit`."""

    def __init__(
        self,
        record_groups: RecordGroups,
        *,
        max_events: int = 2000,
        max_wait: float = 0.002,
        lock: CommitLock | None = None,
    ) -> None:
        self._record_groups = record_groups
        self._lock = lock
        self._max_events = max_events
        self._max_wait = max_wait
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.commits = 0

    @property
    def running(self) -> bool:
        """Whether the writer task is alive."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the writer task on the running event loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="group-writer")

    async def stop(self) -> None:
        """Commit what is already queued, then stop the task."""
        if self._task is None:
            return
        await self._queue.put(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def submit(
        self, group: Sequence[PreparedEvent], blobs: Sequence[tuple[bytes, str]] = ()
    ) -> list[AppendResult]:
        """Append ``group`` (and write ``blobs``) atomically with whatever else is queued."""
        if not self.running:
            raise StoreError("the writer is not running")
        future: asyncio.Future[list[AppendResult]] = asyncio.get_running_loop().create_future()
        # The queue is unbounded: put_nowait never waits, and spares a coroutine per request.
        self._queue.put_nowait(_Pending(group, future, blobs))
        return await future

    async def _collect(self, first: _Pending) -> tuple[list[_Pending], bool]:
        batch, count = [first], len(first.group)
        deadline = asyncio.get_running_loop().time() + self._max_wait
        while count < self._max_events:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    # asyncio.timeout schedules a callback; wait_for would start a task.
                    async with asyncio.timeout(remaining):
                        item = await self._queue.get()
                except TimeoutError:
                    break
            if item is None:
                return batch, True
            batch.append(item)
            count += len(item.group)
        return batch, False

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch, stopping = await self._collect(first)
            await self._commit(batch)
        # Anything queued after the stop signal still gets an answer.
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                _settle(item, StoreError("the server is shutting down"))

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            groups = [p.group for p in batch]
            blobs = [b for p in batch for b in p.blobs]
            # Blobs ride in the append transaction: no event commits without its blob.
            record = partial(self._record_groups, blobs=blobs) if blobs else self._record_groups
            if self._lock is None:
                outcomes = await asyncio.to_thread(record, groups)
            else:
                outcomes = await asyncio.to_thread(self._lock.run, record, groups)
        except StoreError as exc:
            for pending in batch:
                _settle(pending, exc)
            return
        except Exception as exc:
            if len(batch) == 1:
                log.exception("append_failed", events=len(batch[0].group))
                _settle(batch[0], exc)
                return
            # One poisoned group must not fail its neighbours: the transaction rolled
            # back, so commit each group on its own to isolate the failure.
            for pending in batch:
                await self._commit([pending])
            return
        self.commits += 1
        if len(outcomes) != len(batch):
            error = StoreError("the store answered a different number of groups")
            for pending in batch:
                _settle(pending, error)
            return
        for pending, outcome in zip(batch, outcomes, strict=True):
            _settle(pending, outcome)
