"""Point reads and queries of the stored log: entries, refs, leaf hashes, checkpoints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import sqlalchemy as sa

from flightlog.errors import NotFound
from flightlog.ledger import merkle
from flightlog.store.records import EntryRow, Query, StoredCheckpoint
from flightlog.store.schema import checkpoints, entries, ledger_state, refs
from flightlog.store.tiles import driver_run, fetch_nodes

__all__ = ["EntryReader", "EntryRow", "Query", "StoredCheckpoint"]

IN_CHUNK = 500


class EntryReader(Protocol):
    """The read port of the stored log for read-side consumers (lineage, reports, exports)."""

    def tree_size(self) -> int: ...
    def get(self, index: int) -> tuple[EntryRow, bytes | None, list[tuple[str, str]]]: ...
    def refs_of(self, indices: Sequence[int]) -> dict[int, list[tuple[str, str]]]: ...
    def entries_at(self, indices: Sequence[int]) -> dict[int, EntryRow]: ...
    def query(self, q: Query, *, after: int | None, limit: int) -> list[EntryRow]: ...


def entry_from_row(row: Any) -> EntryRow:
    """An :class:`EntryRow` from a row of the ``entries`` table."""
    payload = row.payload
    return EntryRow(
        index=int(row.idx),
        id=row.event_id,
        source=row.source,
        type=row.type,
        time=row.time,
        time_utc=row.time_utc,
        received_at=row.received_at,
        payload_sha256=row.payload_sha256,
        payload=bytes(payload) if payload is not None else None,
    )


def checkpoint_from_row(row: Any) -> StoredCheckpoint:
    """A :class:`StoredCheckpoint` from a row of the ``checkpoints`` table."""
    return StoredCheckpoint(
        int(row.id), int(row.tree_size), bytes(row.root_hash), row.note, row.created_at
    )


def tree_size(conn: sa.Connection) -> int:
    """The log's tree size as recorded by appends."""
    value = conn.execute(
        sa.select(ledger_state.c.tree_size).where(ledger_state.c.id == 1)
    ).scalar_one()
    return int(value)


def nodes(conn: sa.Connection, ids: Sequence[merkle.NodeID]) -> dict[merkle.NodeID, bytes]:
    """Complete-subtree hashes by id, from the tiles holding them."""
    run, marker = driver_run(conn)
    return fetch_nodes(run, marker, ids)


def get(conn: sa.Connection, index: int) -> tuple[EntryRow, bytes | None, list[tuple[str, str]]]:
    """One entry, its stored leaf hash and its refs; NotFound when absent."""
    row = conn.execute(sa.select(entries).where(entries.c.idx == index)).first()
    if row is None:
        raise NotFound(f"no entry at index {index}")
    node = nodes(conn, [(0, index)]).get((0, index))
    ref_list = [
        (r.kind, r.value)
        for r in conn.execute(
            sa.select(refs.c.kind, refs.c.value)
            .where(refs.c.idx == index)
            .order_by(refs.c.kind, refs.c.value)
        )
    ]
    return entry_from_row(row), node, ref_list


def entries_at(conn: sa.Connection, indices: Sequence[int]) -> dict[int, EntryRow]:
    """The entries at ``indices`` that exist, by index (one statement per ``IN_CHUNK``)."""
    out: dict[int, EntryRow] = {}
    for start in range(0, len(indices), IN_CHUNK):
        chunk = list(indices[start : start + IN_CHUNK])
        for row in conn.execute(sa.select(entries).where(entries.c.idx.in_(chunk))):
            out[int(row.idx)] = entry_from_row(row)
    return out


def refs_of(conn: sa.Connection, indices: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
    """Refs of several entries at once."""
    out: dict[int, list[tuple[str, str]]] = {i: [] for i in indices}
    for start in range(0, len(indices), IN_CHUNK):
        chunk = list(indices[start : start + IN_CHUNK])
        for r in conn.execute(
            sa.select(refs.c.idx, refs.c.kind, refs.c.value)
            .where(refs.c.idx.in_(chunk))
            .order_by(refs.c.idx, refs.c.kind, refs.c.value)
        ):
            out[int(r.idx)].append((r.kind, r.value))
    return out


# Ref kinds that many entries share, broadest last: a filter leads with the narrowest.
_BROAD_KINDS = {"system": 1, "service": 2, "environment": 3}


def query(
    conn: sa.Connection,
    q: Query,
    *,
    after: int | None,
    limit: int,
    before: int | None = None,
    newest_first: bool = False,
) -> list[EntryRow]:
    """Entries matching ``q`` with ``after`` < index < ``before``, in ledger order or reversed."""
    order = entries.c.idx.desc() if newest_first else entries.c.idx
    stmt = sa.select(entries).order_by(order).limit(limit)
    if after is not None:
        stmt = stmt.where(entries.c.idx > after)
    if before is not None:
        stmt = stmt.where(entries.c.idx < before)
    if q.types:
        stmt = stmt.where(
            sa.or_(
                *(
                    # autoescape: "%" and "_" in a filter are literal characters, never wildcards.
                    sa.or_(entries.c.type == t, entries.c.type.startswith(t + ".", autoescape=True))
                    for t in q.types
                )
            )
        )
    if q.since_utc is not None:
        stmt = stmt.where(entries.c.time_utc >= q.since_utc)
    if q.until_utc is not None:
        stmt = stmt.where(entries.c.time_utc < q.until_utc)
    # The most telling ref picks the entries; the others are checked one entry at a time
    # (as IN lists SQLite would first gather every entry of, say, an environment).
    ordered = sorted(q.refs, key=lambda ref: _BROAD_KINDS.get(ref[0], 0))
    for n, (kind, value) in enumerate(ordered):
        if n == 0:
            stmt = stmt.where(
                entries.c.idx.in_(
                    sa.select(refs.c.idx).where(refs.c.kind == kind, refs.c.value == value)
                )
            )
            continue
        other = refs.alias(f"ref{n}")
        stmt = stmt.where(
            sa.exists().where(
                other.c.kind == kind, other.c.value == value, other.c.idx == entries.c.idx
            )
        )
    return [entry_from_row(r) for r in conn.execute(stmt)]


def latest_checkpoint(conn: sa.Connection) -> StoredCheckpoint | None:
    """The most recently cut checkpoint."""
    row = conn.execute(sa.select(checkpoints).order_by(checkpoints.c.id.desc()).limit(1)).first()
    return None if row is None else checkpoint_from_row(row)
