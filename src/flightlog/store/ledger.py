"""The ledger store: appends, reads, proofs' node fetches and checkpoints over SQLAlchemy Core.

One code path serves SQLite and PostgreSQL. Appends are serialised per log: SQLite
takes its write lock at ``BEGIN IMMEDIATE``; PostgreSQL takes a transaction-scoped
advisory lock, so several server processes can share one log without gaps or
duplicate indices.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from flightlog.errors import ConflictError, NotFound, StoreError
from flightlog.ledger import merkle
from flightlog.ledger.audit import AuditRow
from flightlog.ledger.entry import AppendResult, PreparedEvent, leaf_bytes_of, utc_now
from flightlog.ledger.merkle import leaf_hash
from flightlog.store.engine import create_engine, is_sqlite, write_transaction
from flightlog.store.schema import checkpoints, entries, ledger_state, merkle_nodes, refs

# Arbitrary constant naming "the Flightlog append lock" among advisory locks.
_ADVISORY_LOCK_KEY = 0x466C6967
_IN_CHUNK = 500
_NODE_CHUNK = 400  # two parameters each, under SQLite's 999-parameter floor
PAGE_SIZE = 5000


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


def _entry_from_row(row: Any) -> EntryRow:
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


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("flightlog.store") / "migrations"))
    return cfg


class LedgerStore:
    """Durable storage of the ledger; every write is one transaction."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._frontier_lock = threading.Lock()
        self._frontier: merkle.CompactRange | None = None

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> LedgerStore:
        """Connect to ``url``; migrate its schema, or (``migrate=False``) only check it."""
        engine = create_engine(url)
        store = cls(engine)
        try:
            store.migrate() if migrate else store.check_schema()
        except BaseException:
            engine.dispose()
            raise
        return store

    def shareable(self) -> bool:
        """Whether other processes can open this same store (not an in-memory SQLite)."""
        database = self.engine.url.database
        return not is_sqlite(self.engine) or bool(database and database != ":memory:")

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    # -- schema -----------------------------------------------------------------------

    def check_schema(self) -> None:
        """StoreError unless the schema is at the latest migration (reads change nothing)."""
        head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        try:
            with self.engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot open the database: {exc.orig}") from exc
        if current != head:
            state = "holds no ledger yet" if current is None else f"is at schema {current}"
            raise StoreError(
                f"the database {self.engine.url.render_as_string(hide_password=True)} {state}, "
                f"not {head}; run `flightlog migrate` to bring it up to date"
            )

    def migrate(self) -> None:
        """Apply pending Alembic migrations (serialised across processes)."""
        cfg = _alembic_config()
        try:
            with write_transaction(self.engine) as conn:
                if not is_sqlite(self.engine):
                    conn.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY + 1}
                    )
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot open the database: {exc.orig}") from exc

    # -- appends ----------------------------------------------------------------------

    def append_groups(
        self,
        groups: Sequence[Sequence[PreparedEvent]],
    ) -> list[list[AppendResult] | ConflictError]:
        """Append several groups of events in ONE transaction.

        Each group is all-or-nothing: a group holding an event whose ``source`` + ``id``
        was recorded with other content is left out and its slot holds the
        :class:`ConflictError`; the other groups commit. Re-appending identical events
        returns their original indices with ``duplicate=True``.
        """
        with self._frontier_lock:
            try:
                with write_transaction(self.engine) as conn:
                    outcome, frontier = self._append_in(conn, groups)
            except sa.exc.OperationalError as exc:
                self._frontier = None
                raise StoreError(f"database unavailable: {exc.orig}") from exc
            except BaseException:
                self._frontier = None
                raise
            # Cached only once committed: a failed commit must not leave a frontier that
            # another process's equally long append would make look current.
            self._frontier = frontier
            return outcome

    def _lock(self, conn: sa.Connection) -> int:
        if not is_sqlite(self.engine):
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
        size = conn.execute(
            sa.select(ledger_state.c.tree_size).where(ledger_state.c.id == 1)
        ).scalar_one()
        return int(size)

    def _load_frontier(self, conn: sa.Connection, size: int) -> merkle.CompactRange:
        cached = self._frontier
        if cached is not None and cached.size == size:
            return cached
        ids = merkle.frontier_ids(size)
        found = self._fetch_nodes(conn, ids)
        missing = [i for i in ids if i not in found]
        if missing:
            raise StoreError(
                f"the Merkle tree is damaged: nodes {missing} are missing; run flightlog verify"
            )
        return merkle.CompactRange(size, [found[i] for i in ids])

    def _existing(
        self, conn: sa.Connection, keys: set[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, str]]:
        found: dict[tuple[str, str], tuple[int, str]] = {}
        ids = sorted({event_id for _, event_id in keys})
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            rows = conn.execute(
                sa.select(
                    entries.c.idx, entries.c.source, entries.c.event_id, entries.c.payload_sha256
                ).where(entries.c.event_id.in_(chunk))
            )
            for row in rows:
                key = (row.source, row.event_id)
                if key in keys:
                    found[key] = (int(row.idx), row.payload_sha256)
        return found

    def _append_in(  # noqa: PLR0915 - the append hot path, one pass over the batch
        self, conn: sa.Connection, groups: Sequence[Sequence[PreparedEvent]]
    ) -> tuple[list[list[AppendResult] | ConflictError], merkle.CompactRange]:
        """Append inside ``conn``'s transaction; return the outcome and the new frontier."""
        size = self._lock(conn)
        keys = {(ev.source, ev.id) for group in groups for ev in group}
        known = self._existing(conn, keys)
        frontier = self._load_frontier(conn, size)
        received_at = utc_now()
        entry_rows: list[tuple[Any, ...]] = []
        node_rows: list[tuple[int, int, bytes]] = []
        ref_rows: list[tuple[str, str, int]] = []
        leaf_hashes: dict[int, bytes] = {}
        outcome: list[list[AppendResult] | ConflictError] = []
        next_index = size
        for group in groups:
            assigned: dict[tuple[str, str], tuple[int, str]] = {}
            plan: list[tuple[PreparedEvent, int, bool]] = []
            conflict: ConflictError | None = None
            for ev in group:
                key = (ev.source, ev.id)
                prior = assigned.get(key) or known.get(key)
                if prior is not None:
                    index, digest = prior
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
                plan.append((ev, index, False))
            if conflict is not None:
                outcome.append(conflict)
                continue
            results: list[AppendResult] = []
            for ev, index, duplicate in plan:
                if duplicate:
                    lh = leaf_hashes.get(index)
                    if lh is None:
                        lh = self._fetch_nodes(conn, [(0, index)])[(0, index)]
                    results.append(AppendResult(index, lh, True))
                    continue
                lh = leaf_hash(
                    leaf_bytes_of(
                        ev.id, ev.source, ev.type, ev.time, received_at, ev.payload_sha256
                    )
                )
                leaf_hashes[index] = lh
                node_rows.extend(frontier.append(lh))
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
                results.append(AppendResult(index, lh, False))
            known.update(assigned)
            next_index += len(assigned)
            outcome.append(results)
        if entry_rows:
            _insert_many(conn, entries, entry_rows)
            _insert_many(conn, merkle_nodes, node_rows)
            _insert_many(conn, refs, ref_rows)
            conn.execute(
                ledger_state.update().where(ledger_state.c.id == 1).values(tree_size=next_index)
            )
        return outcome, frontier

    def erase(self, index: int, erasure: PreparedEvent) -> AppendResult:
        """Drop the payload of entry ``index`` and append ``erasure`` in the same transaction."""
        with self._frontier_lock:
            try:
                with write_transaction(self.engine) as conn:
                    result, frontier = self._erase_in(conn, index, erasure)
            except BaseException:
                self._frontier = None
                raise
            self._frontier = frontier
        if isinstance(result, ConflictError):
            raise result
        return result[0]

    def _erase_in(
        self, conn: sa.Connection, index: int, erasure: PreparedEvent
    ) -> tuple[list[AppendResult] | ConflictError, merkle.CompactRange]:
        """Null the payload of ``index`` and append ``erasure`` inside ``conn``'s transaction."""
        done = conn.execute(
            entries.update()
            .where(entries.c.idx == index, entries.c.payload.is_not(None))
            .values(payload=None)
        )
        if done.rowcount != 1:
            exists = conn.execute(sa.select(entries.c.idx).where(entries.c.idx == index)).first()
            if exists is None:
                raise NotFound(f"no entry at index {index}")
            raise ConflictError(
                f"the payload of entry {index} is already erased", original_index=index
            )
        (result,), frontier = self._append_in(conn, [[erasure]])
        return result, frontier

    # -- reads ------------------------------------------------------------------------

    def tree_size(self) -> int:
        """The number of entries in the log."""
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(ledger_state.c.tree_size).where(ledger_state.c.id == 1)
            ).scalar_one()
        return int(value)

    def get(self, index: int) -> tuple[EntryRow, bytes | None, list[tuple[str, str]]]:
        """One entry, its stored leaf hash and its refs; NotFound when absent."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(entries).where(entries.c.idx == index)).first()
            if row is None:
                raise NotFound(f"no entry at index {index}")
            node = self._fetch_nodes(conn, [(0, index)]).get((0, index))
            ref_list = [
                (r.kind, r.value)
                for r in conn.execute(
                    sa.select(refs.c.kind, refs.c.value)
                    .where(refs.c.idx == index)
                    .order_by(refs.c.kind, refs.c.value)
                )
            ]
        return _entry_from_row(row), node, ref_list

    def refs_of(self, indices: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
        """Refs of several entries at once."""
        out: dict[int, list[tuple[str, str]]] = {i: [] for i in indices}
        with self.engine.connect() as conn:
            for start in range(0, len(indices), _IN_CHUNK):
                chunk = list(indices[start : start + _IN_CHUNK])
                for r in conn.execute(
                    sa.select(refs.c.idx, refs.c.kind, refs.c.value)
                    .where(refs.c.idx.in_(chunk))
                    .order_by(refs.c.idx, refs.c.kind, refs.c.value)
                ):
                    out[int(r.idx)].append((r.kind, r.value))
        return out

    def leaf_hashes(self, indices: Sequence[int]) -> dict[int, bytes]:
        """Stored level-0 hashes of several entries."""
        with self.engine.connect() as conn:
            found = self._fetch_nodes(conn, [(0, i) for i in indices])
        return {idx: h for (_, idx), h in found.items()}

    def query(
        self,
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
                        sa.or_(entries.c.type == t, entries.c.type.startswith(t + "."))
                        for t in q.types
                    )
                )
            )
        if q.since_utc is not None:
            stmt = stmt.where(entries.c.time_utc >= q.since_utc)
        if q.until_utc is not None:
            stmt = stmt.where(entries.c.time_utc < q.until_utc)
        for kind, value in q.refs:
            stmt = stmt.where(
                entries.c.idx.in_(
                    sa.select(refs.c.idx).where(refs.c.kind == kind, refs.c.value == value)
                )
            )
        with self.engine.connect() as conn:
            return [_entry_from_row(r) for r in conn.execute(stmt)]

    @contextmanager
    def snapshot(self) -> Iterator[LedgerSnapshot]:
        """A read-only, consistent view of the whole log for verification.

        One transaction on one connection (SQLite: a deferred read transaction in WAL,
        which never blocks appends; PostgreSQL: REPEATABLE READ, READ ONLY), so entries
        appended while a long verification runs are simply not part of what it checks.
        """
        raw = self.engine.raw_connection()
        try:
            dbapi = raw.dbapi_connection
            assert dbapi is not None
            sqlite = is_sqlite(self.engine)
            if sqlite:
                dbapi.execute("BEGIN")
            else:
                dbapi.rollback()
                dbapi.autocommit = True
                dbapi.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield LedgerSnapshot(dbapi, "?" if sqlite else "%s")
            finally:
                dbapi.execute("ROLLBACK")
                if not sqlite:
                    dbapi.autocommit = False
        finally:
            raw.close()

    def iter_entries(self, page_size: int = PAGE_SIZE) -> Iterator[EntryRow]:
        """Every entry in index order, read in pages from one snapshot (memory stays flat)."""
        with self.snapshot() as snap:
            size = snap.tree_size()
            for start in range(0, size, page_size):
                for t in snap.entries_between(start, start + page_size):
                    yield EntryRow(t[0], t[1], t[2], t[3], t[4], "", t[5], t[6], t[7])

    def nodes(self, ids: Sequence[merkle.NodeID]) -> dict[merkle.NodeID, bytes]:
        """Fetch complete-subtree hashes by id (one query; used by proofs)."""
        with self.engine.connect() as conn:
            return self._fetch_nodes(conn, ids)

    def _fetch_nodes(
        self, conn: sa.Connection, ids: Sequence[merkle.NodeID]
    ) -> dict[merkle.NodeID, bytes]:
        marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        return fetch_nodes(conn.exec_driver_sql, marker, ids)

    # -- checkpoints ------------------------------------------------------------------

    def add_checkpoint(self, tree_size: int, root_hash: bytes, note: str) -> StoredCheckpoint:
        """Store a signed checkpoint."""
        created = utc_now()
        with write_transaction(self.engine) as conn:
            new_id = conn.execute(
                checkpoints.insert()
                .values(tree_size=tree_size, root_hash=root_hash, note=note, created_at=created)
                .returning(checkpoints.c.id)
            ).scalar_one()
        return StoredCheckpoint(int(new_id), tree_size, root_hash, note, created)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The most recently cut checkpoint."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(checkpoints).order_by(checkpoints.c.id.desc()).limit(1)
            ).first()
        return None if row is None else _checkpoint(row)


class LedgerSnapshot:
    """Reads over one open read-only transaction, with plain driver tuples for speed."""

    def __init__(self, dbapi: Any, marker: str) -> None:
        self._db = dbapi
        self._m = marker

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Run ``sql`` with ``{m}`` standing for the driver's parameter marker."""
        return self._raw(sql.format(m=self._m), params)

    def _raw(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        cur = self._db.cursor()
        try:
            cur.execute(sql, params)
            return list(cur.fetchall())
        finally:
            cur.close()

    def tree_size(self) -> int:
        """The log's tree size as recorded by appends."""
        return int(self._all("SELECT tree_size FROM ledger_state WHERE id = 1")[0][0])

    def first_entry_outside(self, size: int) -> int | None:
        """The smallest index of a row outside ``[0, size)``, if any exists."""
        rows = self._all("SELECT min(idx) FROM entries WHERE idx >= {m} OR idx < 0", (size,))
        return None if rows[0][0] is None else int(rows[0][0])

    def level_counts(self) -> dict[int, int]:
        """How many nodes each level stores."""
        rows = self._all("SELECT level, count(*) FROM merkle_nodes GROUP BY level")
        return {int(level): int(count) for level, count in rows}

    def nodes(self, ids: Sequence[merkle.NodeID]) -> dict[merkle.NodeID, bytes]:
        """Stored nodes by id, read in this snapshot."""
        return fetch_nodes(self._raw, self._m, ids)

    def checkpoint_note(self, tree_size: int) -> str | None:
        """The signed note of the latest checkpoint of exactly ``tree_size`` entries."""
        rows = self._all(
            "SELECT note FROM checkpoints WHERE tree_size = {m} ORDER BY id DESC LIMIT 1",
            (tree_size,),
        )
        return None if not rows else str(rows[0][0])

    def find_leaf(self, leaf_hash: bytes) -> int | None:
        """The index whose stored leaf hash is ``leaf_hash`` (a scan: used only on failure)."""
        rows = self._all(
            "SELECT idx FROM merkle_nodes WHERE level = 0 AND hash = {m}", (leaf_hash,)
        )
        return None if not rows else int(rows[0][0])

    def payloads_of_type(self, type_prefix: str) -> list[tuple[int, bytes | None]]:
        """``(idx, payload)`` of every entry whose type starts with ``type_prefix``."""
        rows = self._all(
            "SELECT idx, payload FROM entries WHERE type LIKE {m} ORDER BY idx",
            (type_prefix + "%",),
        )
        return [(int(i), None if p is None else bytes(p)) for i, p in rows]

    def iter_checkpoints(self) -> Iterator[StoredCheckpoint]:
        """Every checkpoint in the order it was cut."""
        rows = self._all(
            "SELECT id, tree_size, root_hash, note, created_at FROM checkpoints ORDER BY id"
        )
        for r in rows:
            yield StoredCheckpoint(int(r[0]), int(r[1]), bytes(r[2]), r[3], r[4])

    def entries_between(self, start: int, end: int) -> list[AuditRow]:
        """Entries with ``start <= idx < end`` in index order, as :data:`AuditRow` tuples."""
        return self._all(
            "SELECT idx, event_id, source, type, time, received_at, payload_sha256, payload "
            "FROM entries WHERE idx >= {m} AND idx < {m} ORDER BY idx",
            (start, end),
        )

    def level_hashes(self, level: int, start: int, end: int) -> list[bytes]:
        """Stored hashes of one level with ``start <= idx < end``, in index order."""
        rows = self._all(
            "SELECT hash FROM merkle_nodes WHERE level = {m} AND idx >= {m} AND idx < {m} ORDER BY idx",
            (level, start, end),
        )
        return [r[0] for r in rows]

    def level_between(self, level: int, start: int, end: int) -> list[tuple[int, bytes]]:
        """Stored ``(idx, hash)`` of one level with ``start <= idx < end``, in index order."""
        rows = self._all(
            "SELECT idx, hash FROM merkle_nodes WHERE level = {m} AND idx >= {m} AND idx < {m} ORDER BY idx",
            (level, start, end),
        )
        return [(int(i), bytes(h)) for i, h in rows]


def fetch_nodes(
    run: Callable[[str, tuple[Any, ...]], Iterable[Any]], marker: str, ids: Sequence[merkle.NodeID]
) -> dict[merkle.NodeID, bytes]:
    """Fetch nodes by id with primary-key lookups only (proofs stay O(log n)).

    ``(level = ? AND idx = ?) OR …`` is planned as one index search per term on both
    databases; a row-value ``(level, idx) IN (…)`` makes SQLite scan the table.
    """
    unique = list(dict.fromkeys(ids))
    out: dict[merkle.NodeID, bytes] = {}
    for start in range(0, len(unique), _NODE_CHUNK):
        chunk = unique[start : start + _NODE_CHUNK]
        terms = " OR ".join(f"(level = {marker} AND idx = {marker})" for _ in chunk)
        sql = f"SELECT level, idx, hash FROM merkle_nodes WHERE {terms}"  # noqa: S608 - markers only
        for level, idx, h in run(sql, tuple(x for node in chunk for x in node)):
            out[(int(level), int(idx))] = bytes(h)
    return out


def _insert_many(conn: sa.Connection, table: sa.Table, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert rows given as tuples in the table's column order, in one driver executemany.

    The append hot path skips SQLAlchemy's per-row parameter processing; the statement
    is still built from the table definition, in the driver's own parameter style.
    """
    if not rows:
        return
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    columns = ", ".join(c.name for c in table.columns)
    placeholders = ", ".join(marker for _ in table.columns)
    # Names come from the table definition, values are bound: nothing user-given is spliced.
    sql = f"INSERT INTO {table.name} ({columns}) VALUES ({placeholders})"  # noqa: S608
    conn.exec_driver_sql(sql, list(rows))


def _checkpoint(row: Any) -> StoredCheckpoint:
    return StoredCheckpoint(
        int(row.id), int(row.tree_size), bytes(row.root_hash), row.note, row.created_at
    )
