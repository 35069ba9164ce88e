"""The ledger store: one object over the append, read and snapshot jobs of ``store/``.

One code path serves SQLite and PostgreSQL; appends live in :mod:`flightlog.store.append`,
point reads in :mod:`flightlog.store.reads`, consistent whole-log reads in
:mod:`flightlog.store.snapshot`, and the Merkle tree as tiles in :mod:`flightlog.store.tiles`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

import sqlalchemy as sa

from flightlog.errors import ConflictError, StoreError
from flightlog.ledger import merkle
from flightlog.ledger.entry import AppendResult, PreparedEvent, utc_now
from flightlog.ledger.tiles import TileID
from flightlog.store import reads
from flightlog.store.append import ADVISORY_LOCK_KEY as _ADVISORY_LOCK_KEY
from flightlog.store.append import Appended, Appender, Projection, lock_log
from flightlog.store.engine import create_engine, is_sqlite, write_transaction
from flightlog.store.lineage import project_lineage
from flightlog.store.reads import EntryRow, Query, StoredCheckpoint, checkpoint_from_row
from flightlog.store.schema import checkpoints, refs
from flightlog.store.snapshot import LedgerSnapshot
from flightlog.store.tiles import read_entry_bundle, read_tile

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "Appended",
    "EntryRow",
    "LedgerSnapshot",
    "LedgerStore",
    "Projection",
    "Query",
    "StoredCheckpoint",
]

PAGE_SIZE = 5000


def _newer_schema(revision: str) -> StoreError:
    return StoreError(
        f"the database is at schema {revision}, which this Flightlog does not know: it was "
        "written by a newer version; upgrade Flightlog (nothing was changed)"
    )


_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)
_QUOTED = re.compile(r"[\"']([^\"']+)[\"']")
_VERSION_TABLE = "alembic_version"


@cache
def schema_revisions() -> tuple[str, frozenset[str]]:
    """The head revision and every known revision, read from the migration files.

    Checking a store's schema this way costs a directory listing instead of loading
    Alembic (and Mako), which only a migration that actually runs needs.
    """
    versions = resources.files("flightlog.store") / "migrations" / "versions"
    known: set[str] = set()
    parents: set[str] = set()
    for script in versions.iterdir():
        if not script.name.endswith(".py") or script.name.startswith("__"):
            continue
        fields = dict(_REVISION_LINE.findall(script.read_text(encoding="utf-8")))
        revision = _QUOTED.findall(fields.get("revision", ""))
        if len(revision) != 1:
            raise StoreError(f"the migration {script.name} names no single revision")
        known.add(revision[0])
        # A merge names several parents: ("0004a", "0004b").
        parents.update(_QUOTED.findall(fields.get("down_revision", "")))
    heads = known - parents
    if len(heads) != 1:
        raise StoreError(f"the migrations have {len(heads)} heads, not one: {sorted(heads)}")
    return heads.pop(), frozenset(known)


def current_revision(conn: sa.Connection) -> str | None:
    """The schema revision recorded in the database (None before the first migration)."""
    if not sa.inspect(conn).has_table(_VERSION_TABLE):
        return None
    found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(found) > 1:
        raise StoreError(f"the database records {len(found)} schema revisions: {sorted(found)}")
    return str(found[0]) if found else None


def alembic_config() -> Config:
    """An Alembic configuration over Flightlog's migration scripts (Alembic loaded here)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("flightlog.store") / "migrations"))
    return cfg


class LedgerStore:
    """Durable storage of the ledger; every write is one transaction."""

    def __init__(self, engine: sa.Engine, projections: Sequence[Projection] | None = None) -> None:
        self.engine = engine
        # Every store keeps its lineage tables current unless told otherwise (benchmarks).
        self._appender = Appender(engine, [project_lineage] if projections is None else projections)

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

    def sqlite_path(self) -> str | None:
        """The file of an SQLite store (None for PostgreSQL or an in-memory database)."""
        database = self.engine.url.database
        if is_sqlite(self.engine) and database and database != ":memory:":
            return database
        return None

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
        head, known = schema_revisions()
        try:
            with self.engine.connect() as conn:
                current = current_revision(conn)
        except sa.exc.DatabaseError as exc:
            raise StoreError(f"cannot open the database: {exc.orig}") from exc
        if current is not None and current not in known:
            raise _newer_schema(current)
        if current != head:
            state = "holds no ledger yet" if current is None else f"is at schema {current}"
            raise StoreError(
                f"the database {self.engine.url.render_as_string(hide_password=True)} {state}, "
                f"not {head}; run `flightlog migrate` to bring it up to date"
            )

    def migrate(self) -> None:
        """Apply pending Alembic migrations (serialised across processes).

        A store already at the head revision is left as it is without loading Alembic.
        """
        head, known = schema_revisions()
        try:
            with write_transaction(self.engine) as conn:
                if not is_sqlite(self.engine):
                    conn.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY + 1}
                    )
                current = current_revision(conn)
                if current is not None and current not in known:
                    raise _newer_schema(current)
                if current == head:
                    return
                from alembic import command

                cfg = alembic_config()
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except sa.exc.DatabaseError as exc:
            # OperationalError (unreachable) or DatabaseError (not a database, truncated).
            raise StoreError(f"cannot open the database: {exc.orig}") from exc

    # -- appends ----------------------------------------------------------------------

    @property
    def projections(self) -> list[Projection]:
        """Projections run inside every append transaction, in order (append to register)."""
        return self._appender.projections

    def append_groups(
        self,
        groups: Sequence[Sequence[PreparedEvent]],
        blobs: Sequence[tuple[bytes, str]] = (),
    ) -> list[list[AppendResult] | ConflictError]:
        """Append several groups of events, and ``blobs``, in ONE transaction (:class:`Appender`)."""
        return self._appender.append_groups(groups, blobs)

    def erase(self, index: int, erasure: PreparedEvent) -> AppendResult:
        """Drop the payload of entry ``index`` and append ``erasure`` in the same transaction."""
        return self._appender.erase(index, erasure)

    # -- reads ------------------------------------------------------------------------

    def tree_size(self) -> int:
        """The number of entries in the log."""
        with self.engine.connect() as conn:
            return reads.tree_size(conn)

    def get(self, index: int) -> tuple[EntryRow, bytes | None, list[tuple[str, str]]]:
        """One entry, its stored leaf hash and its refs; NotFound when absent."""
        with self.engine.connect() as conn:
            return reads.get(conn, index)

    def refs_of(self, indices: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
        """Refs of several entries at once."""
        with self.engine.connect() as conn:
            return reads.refs_of(conn, indices)

    def entries_at(self, indices: Sequence[int]) -> dict[int, EntryRow]:
        """Several entries at once, by index; indices with no entry are left out."""
        with self.engine.connect() as conn:
            return reads.entries_at(conn, indices)

    def ref_values(self, kind: str, *, limit: int = 1000) -> list[str]:
        """The distinct values of one kind of ref (service, environment, system …), sorted."""
        stmt = (
            sa.select(refs.c.value)
            .where(refs.c.kind == kind)
            .distinct()
            .order_by(refs.c.value)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [str(v) for v in conn.execute(stmt).scalars()]

    def leaf_hashes(self, indices: Sequence[int]) -> dict[int, bytes]:
        """Stored level-0 hashes of several entries."""
        with self.engine.connect() as conn:
            found = reads.nodes(conn, [(0, i) for i in indices])
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
        with self.engine.connect() as conn:
            return reads.query(
                conn, q, after=after, limit=limit, before=before, newest_first=newest_first
            )

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
        """Complete-subtree hashes by id, from the tiles holding them (used by proofs)."""
        with self.engine.connect() as conn:
            return reads.nodes(conn, ids)

    def tile(self, tile: TileID) -> bytes:
        """The bytes of one tlog-tiles tile; NotFound beyond the tree or wider than it."""
        with self.snapshot() as snap:
            return read_tile(snap, tile)

    def entry_bundle(self, tile: TileID) -> bytes:
        """One tlog-tiles entry bundle (leaf bytes); NotFound beyond the tree or wider than it."""
        with self.snapshot() as snap:
            return read_entry_bundle(snap, tile)

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

    def cut_checkpoint(self, sign: Callable[[int, bytes, str | None], str]) -> StoredCheckpoint:
        """Cut a checkpoint of the current tree under the append lock, so cuts never go back.

        ``sign(size, root, first_note)`` returns the signed note; ``first_note`` is the
        ledger's first checkpoint (None before it), whose key every later one must use.
        The latest checkpoint is returned instead when the tree has not grown.
        """
        with write_transaction(self.engine) as conn:
            size = lock_log(conn)
            ordered = sa.select(checkpoints).order_by(checkpoints.c.id.desc()).limit(1)
            latest = conn.execute(ordered).first()
            if latest is not None and int(latest.tree_size) >= size:
                return checkpoint_from_row(latest)
            first = conn.execute(
                sa.select(checkpoints.c.note).order_by(checkpoints.c.id).limit(1)
            ).scalar()
            plan = merkle.root_plan(size)
            root = plan.assemble(reads.nodes(conn, plan.ids))[0]
            note = sign(size, root, first)
            created = utc_now()
            new_id = conn.execute(
                checkpoints.insert()
                .values(tree_size=size, root_hash=root, note=note, created_at=created)
                .returning(checkpoints.c.id)
            ).scalar_one()
        return StoredCheckpoint(int(new_id), size, root, note, created)

    def first_checkpoint_note(self) -> str | None:
        """The signed note of the ledger's first checkpoint, if one was cut."""
        with self.engine.connect() as conn:
            note = conn.execute(
                sa.select(checkpoints.c.note).order_by(checkpoints.c.id).limit(1)
            ).scalar()
        return None if note is None else str(note)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The most recently cut checkpoint."""
        with self.engine.connect() as conn:
            return reads.latest_checkpoint(conn)
