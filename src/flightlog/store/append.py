"""Appends: one transaction per call, serialised per log, writing entries, tiles and refs.

SQLite takes its write lock at ``BEGIN IMMEDIATE``; PostgreSQL takes a
transaction-scoped advisory lock, so several server processes can share one log
without gaps or duplicate indices. Projections run inside the same transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from flightlog.errors import ConflictError, NotFound, StoreError
from flightlog.ledger import merkle
from flightlog.ledger.entry import AppendResult, PreparedEvent, leaf_bytes_of, utc_now
from flightlog.ledger.merkle import leaf_hash
from flightlog.ledger.tiles import TILE_HEIGHT, TileKey, leaf_appends, tile_appends
from flightlog.store.blobs import write_blobs
from flightlog.store.engine import write_transaction
from flightlog.store.reads import IN_CHUNK, nodes
from flightlog.store.schema import entries, ledger_state, refs
from flightlog.store.tiles import grow_tiles, load_edge, upsert_tiles

# Arbitrary constant naming "the Flightlog append lock" among advisory locks.
ADVISORY_LOCK_KEY = 0x466C6967


@dataclass(frozen=True, slots=True)
class Appended:
    """One entry an append wrote: its index, the event and the time it was received."""

    index: int
    event: PreparedEvent
    received_at: str


class Projection(Protocol):
    """Derived tables written inside the append transaction (deployments, lineage, outbox).

    Called once per append transaction with its connection and the entries it added
    (duplicates and conflicting groups left out); raising aborts the whole append.
    """

    def __call__(self, conn: sa.Connection, appended: Sequence[Appended]) -> None: ...


class Appender:
    """Serialises appends to one log and keeps its right edge (frontier, partial tiles) cached."""

    def __init__(self, engine: sa.Engine, projections: Sequence[Projection] = ()) -> None:
        self.engine = engine
        self.projections: list[Projection] = list(projections)
        self._lock = threading.Lock()
        self._edge: tuple[merkle.CompactRange, dict[TileKey, bytes]] | None = None

    def append_groups(
        self,
        groups: Sequence[Sequence[PreparedEvent]],
        blobs: Sequence[tuple[bytes, str]] = (),
    ) -> list[list[AppendResult] | ConflictError]:
        """Append several groups of events in ONE transaction.

        Each group is all-or-nothing: a group holding an event whose ``source`` + ``id``
        was recorded with other content is left out and its slot holds the
        :class:`ConflictError`; the other groups commit. Re-appending identical events
        returns their original indices with ``duplicate=True``. ``blobs``
        (``(data, media_type)`` pairs the events name by digest) are written in the same
        transaction.
        """
        with self._lock:
            try:
                with write_transaction(self.engine) as conn:
                    write_blobs(conn, blobs)
                    outcome, edge = self._append_in(conn, groups)
            except sa.exc.OperationalError as exc:
                self._edge = None
                raise StoreError(f"database unavailable: {exc.orig}") from exc
            except BaseException:
                self._edge = None
                raise
            # Cached only once committed: a failed commit must not leave an edge that
            # another process's equally long append would make look current.
            self._edge = edge
            return outcome

    def erase(self, index: int, erasure: PreparedEvent) -> AppendResult:
        """Drop the payload of entry ``index`` and append ``erasure`` in the same transaction."""
        with self._lock:
            try:
                with write_transaction(self.engine) as conn:
                    done = conn.execute(
                        entries.update()
                        .where(entries.c.idx == index, entries.c.payload.is_not(None))
                        .values(payload=None)
                    )
                    if done.rowcount != 1:
                        exists = conn.execute(
                            sa.select(entries.c.idx).where(entries.c.idx == index)
                        ).first()
                        if exists is None:
                            raise NotFound(f"no entry at index {index}")
                        raise ConflictError(
                            f"the payload of entry {index} is already erased",
                            original_index=index,
                        )
                    # Refs (actors, tickets …) were derived from the payload: they go with it.
                    conn.execute(refs.delete().where(refs.c.idx == index))
                    (result,), edge = self._append_in(conn, [[erasure]])
            except BaseException:
                self._edge = None
                raise
            self._edge = edge
        if isinstance(result, ConflictError):
            raise result
        return result[0]

    def _size(self, conn: sa.Connection) -> int:
        return lock_log(conn)

    def _load_edge(
        self, conn: sa.Connection, size: int
    ) -> tuple[merkle.CompactRange, dict[TileKey, bytes]]:
        cached = self._edge
        if cached is not None and cached[0].size == size:
            frontier, tiles = cached
            # A copy: the transaction may still fail after growing it.
            return merkle.CompactRange(size, frontier.hashes), dict(tiles)
        return load_edge(conn, size)

    def _existing(
        self, conn: sa.Connection, keys: set[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, str]]:
        found: dict[tuple[str, str], tuple[int, str]] = {}
        ids = sorted({event_id for _, event_id in keys})
        marker = _marker(conn)
        for start in range(0, len(ids), IN_CHUNK):
            chunk = ids[start : start + IN_CHUNK]
            # Driver SQL: building an expanding IN through SQLAlchemy cost more per
            # commit than the lookup. Only markers are spliced; the ids are bound.
            sql = (
                f"SELECT idx, source, event_id, payload_sha256 FROM {entries.name} "  # noqa: S608
                f"WHERE event_id IN ({', '.join(marker for _ in chunk)})"
            )
            for idx, source, event_id, digest in conn.exec_driver_sql(sql, tuple(chunk)):
                key = (source, event_id)
                if key in keys:
                    found[key] = (int(idx), digest)
        return found

    def _append_in(  # noqa: PLR0912, PLR0915 - the append hot path, one pass over the batch
        self, conn: sa.Connection, groups: Sequence[Sequence[PreparedEvent]]
    ) -> tuple[
        list[list[AppendResult] | ConflictError], tuple[merkle.CompactRange, dict[TileKey, bytes]]
    ]:
        """Append inside ``conn``'s transaction; return the outcome and the new right edge."""
        size = self._size(conn)
        keys = {(ev.source, ev.id) for group in groups for ev in group}
        known = self._existing(conn, keys) if keys else {}
        frontier, edge = self._load_edge(conn, size)
        received_at = utc_now()
        entry_rows: list[tuple[Any, ...]] = []
        new_leaves: list[bytes] = []
        upper: list[tuple[int, int, bytes]] = []  # completed nodes on tile levels above 0
        ref_rows: list[tuple[str, str, int]] = []
        appended: list[Appended] = []
        leaf_hashes: dict[int, bytes] = {}
        outcome: list[list[AppendResult] | ConflictError] = []
        next_index = size
        for group in groups:
            assigned: dict[tuple[str, str], tuple[int, str]] = {}
            first_seen: dict[tuple[str, str], str] = {}
            plan: list[tuple[PreparedEvent, int, bool]] = []
            conflict: ConflictError | None = None
            for ev in group:
                key = (ev.source, ev.id)
                prior = assigned.get(key) or known.get(key)
                if prior is not None:
                    index, digest = prior
                    if digest != ev.payload_sha256 and key in first_seen:
                        conflict = _batch_conflict(ev, first_seen[key])
                        break
                    if digest != ev.payload_sha256:
                        conflict = ConflictError(
                            f"{ev.position}: an event with source {ev.source!r} and id {ev.id!r} is "
                            f"already recorded at index {index} with different content",
                            original_index=index,
                        )
                        break
                    plan.append((ev, index, True))
                    continue
                index = next_index + len(assigned)
                assigned[key] = (index, ev.payload_sha256)
                first_seen[key] = ev.position
                plan.append((ev, index, False))
            if conflict is not None:
                outcome.append(conflict)
                continue
            results: list[AppendResult] = []
            for ev, index, duplicate in plan:
                if duplicate:
                    lh = leaf_hashes.get(index)
                    if lh is None:
                        lh = nodes(conn, [(0, index)])[(0, index)]
                    results.append(AppendResult(index, lh, True))
                    continue
                lh = leaf_hash(
                    leaf_bytes_of(
                        ev.id, ev.source, ev.type, ev.time, received_at, ev.payload_sha256
                    )
                )
                leaf_hashes[index] = lh
                new_leaves.append(lh)
                completed = frontier.append(lh)  # completed[k] is on level k
                if len(completed) > TILE_HEIGHT:
                    upper.extend(completed[TILE_HEIGHT::TILE_HEIGHT])
                entry_rows.append(
                    (
                        index,
                        ev.id,
                        ev.source,
                        ev.type,
                        ev.time,
                        ev.time_utc,
                        received_at,
                        ev.payload_sha256,
                        ev.canonical,
                    )
                )
                ref_rows.extend([(k, v, index) for k, v in ev.refs])
                if self.projections:
                    appended.append(Appended(index, ev, received_at))
                results.append(AppendResult(index, lh, False))
            known.update(assigned)
            next_index += len(assigned)
            outcome.append(results)
        if entry_rows:
            appends = leaf_appends(size, new_leaves)
            appends.update(tile_appends(upper))
            tile_rows, edge = grow_tiles(edge, appends)
            insert_many(conn, entries, entry_rows)
            upsert_tiles(conn, tile_rows)
            insert_many(conn, refs, ref_rows)
            conn.exec_driver_sql(
                f"UPDATE {ledger_state.name} SET tree_size = {_marker(conn)} WHERE id = 1",  # noqa: S608
                (next_index,),
            )
            for project in self.projections:
                project(conn, appended)
        return outcome, (frontier, edge)


def lock_log(conn: sa.Connection) -> int:
    """Take the log's append lock for ``conn``'s transaction and return the tree size.

    SQLite already holds its write lock (``BEGIN IMMEDIATE``); PostgreSQL takes a
    transaction-scoped advisory lock, so appends and checkpoint cuts of several
    processes are serialised in the database.
    """
    # Driver SQL on the hot path: no statement to build or cache key to compute.
    if conn.dialect.name != "sqlite":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
    size = conn.exec_driver_sql(
        f"SELECT tree_size FROM {ledger_state.name} WHERE id = 1"  # noqa: S608
    ).scalar_one()
    return int(size)


def _batch_conflict(ev: PreparedEvent, first_position: str) -> ConflictError:
    """Two events of one batch share source and id but differ: name both batch positions."""
    return ConflictError(
        f"{ev.position}: an event with source {ev.source!r} and id {ev.id!r} appears earlier "
        f"in the same request at {first_position} with different content; nothing was recorded",
        original_index=None,
        original_position=first_position,
    )


def _marker(conn: sa.Connection) -> str:
    """The driver's positional parameter marker (sqlite3: ``?``, psycopg: ``%s``)."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def insert_many(conn: sa.Connection, table: sa.Table, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert rows given as tuples in the table's column order, in one driver executemany.

    The append hot path skips SQLAlchemy's per-row parameter processing; the statement
    is still built from the table definition, in the driver's own parameter style.
    """
    if not rows:
        return
    marker = _marker(conn)
    columns = ", ".join(c.name for c in table.columns)
    placeholders = ", ".join(marker for _ in table.columns)
    # Names come from the table definition, values are bound: nothing user-given is spliced.
    sql = f"INSERT INTO {table.name} ({columns}) VALUES ({placeholders})"  # noqa: S608
    conn.exec_driver_sql(sql, list(rows))
