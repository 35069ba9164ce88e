"""What the store hands back: entries, checkpoints, and the filters of a query.

Plain frozen dataclasses with no database import, so a verification worker can load
them without the SQL toolkit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EntryRow:
    """One stored entry as read back (payload is ``None`` once erased)."""

    index: int
    id: str
    source: str
    type: str
    time: str
    time_utc: str
    received_at: str
    payload_sha256: str
    payload: bytes | None


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint as stored: its signed note and the tree it commits to."""

    id: int
    tree_size: int
    root_hash: bytes
    note: str
    created_at: str


@dataclass(frozen=True)
class Query:
    """Entry filters translated for the store: refs to match, type patterns, time range."""

    refs: tuple[tuple[str, str], ...] = ()
    types: tuple[str, ...] = ()
    since_utc: str | None = None
    until_utc: str | None = None
