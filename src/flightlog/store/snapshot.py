"""Reads over one open read-only transaction: what verification, proofs and tiles read."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any

from flightlog.ledger import merkle
from flightlog.ledger.audit import AuditRow, CheckedRow
from flightlog.ledger.tiles import TileKey
from flightlog.store.records import StoredCheckpoint
from flightlog.store.tiles import fetch_nodes, fetch_tiles

CELL_TABLES = ("entries", "tiles", "refs", "ledger_state", "checkpoints")
"""The tables whose cells :meth:`LedgerSnapshot.malformed_cell` checks, in that order."""
ROW_TABLES = ("entries", "refs")
"""The tables of one row (or several) per entry: checking their cells reads every row."""

DIGESTS_PER_QUERY = 500
"""Indices per ``IN (…)`` list: far below SQLite's and PostgreSQL's parameter limits."""

LeafRow = tuple[int, str, str, str, str, str, str]
"""The leaf fields of an entry: idx, id, source, type, time, received_at, payload_sha256."""


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

    def tile_counts(self) -> dict[int, tuple[int, int]]:
        """Per tile level: how many tiles and how many hashes are stored."""
        rows = self._all("SELECT level, count(*), sum(length(hashes)) FROM tiles GROUP BY level")
        return {
            int(level): (int(count), int(total) // merkle.HASH_SIZE) for level, count, total in rows
        }

    def tiles(self, keys: Sequence[TileKey]) -> dict[TileKey, bytes]:
        """Stored tiles by ``(level, index)``."""
        return fetch_tiles(self._raw, self._m, keys)

    def tiles_between(self, level: int, start: int, end: int) -> list[tuple[int, bytes]]:
        """Stored ``(index, hashes)`` of the tiles of one level with ``start <= index < end``."""
        rows = self._all(
            "SELECT idx, hashes FROM tiles WHERE level = {m} AND idx >= {m} AND idx < {m} ORDER BY idx",
            (level, start, end),
        )
        return [(int(i), bytes(h)) for i, h in rows]

    def nodes(self, ids: Sequence[merkle.NodeID]) -> dict[merkle.NodeID, bytes]:
        """Complete-subtree hashes by id, read in this snapshot."""
        return fetch_nodes(self._raw, self._m, ids)

    def checkpoint_note(self, tree_size: int) -> str | None:
        """The signed note of the latest checkpoint of exactly ``tree_size`` entries."""
        rows = self._all(
            "SELECT note FROM checkpoints WHERE tree_size = {m} ORDER BY id DESC LIMIT 1",
            (tree_size,),
        )
        return None if not rows else str(rows[0][0])

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The most recently cut checkpoint in this snapshot."""
        rows = self._all(
            "SELECT id, tree_size, root_hash, note, created_at FROM checkpoints ORDER BY id DESC LIMIT 1"
        )
        if not rows:
            return None
        r = rows[0]
        return StoredCheckpoint(int(r[0]), int(r[1]), bytes(r[2]), r[3], r[4])

    def find_leaf(self, leaf_hash: bytes) -> int | None:
        """The index whose stored leaf hash is ``leaf_hash`` (a scan: used only on failure)."""
        for idx, data in self._all("SELECT idx, hashes FROM tiles WHERE level = 0 ORDER BY idx"):
            blob = bytes(data)
            pos = blob.find(leaf_hash)
            while pos >= 0:
                if pos % merkle.HASH_SIZE == 0:
                    return int(idx) * 256 + pos // merkle.HASH_SIZE
                pos = blob.find(leaf_hash, pos + 1)
        return None

    def payloads_of_type(self, type_prefix: str) -> list[tuple[int, bytes | None]]:
        """``(idx, payload)`` of every entry whose type starts with ``type_prefix``.

        On SQLite a range of the type index finds them (LIKE would read every row);
        types are compared byte for byte there, as the prefix test does.
        """
        if self._m == "?" and type_prefix:
            following = type_prefix[:-1] + chr(ord(type_prefix[-1]) + 1)
            rows = self._all(
                "SELECT idx, payload FROM entries WHERE type >= {m} AND type < {m} ORDER BY idx",
                (type_prefix, following),
            )
        else:
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

    def leaves_between(self, start: int, end: int) -> list[LeafRow]:
        """The leaf fields of entries with ``start <= idx < end``, in index order."""
        return self._all(
            "SELECT idx, event_id, source, type, time, received_at, payload_sha256 "
            "FROM entries WHERE idx >= {m} AND idx < {m} ORDER BY idx",
            (start, end),
        )

    # -- reads for the integrity checks (ledger/integrity.py) ------------------------

    def malformed_cell(
        self, tables: Collection[str] = CELL_TABLES
    ) -> tuple[str, int | None] | None:
        """``(table, index)`` of the first cell of ``tables`` whose storage type is wrong.

        SQLite only: PostgreSQL's column types refuse such cells; SQLite stores whatever
        it is given, and a text payload or a non-integer size would otherwise surface as
        a traceback. Tables are checked in the order of :data:`CELL_TABLES`.
        """
        if self._m != "?":
            return None
        for table, sql in _CELL_CHECKS:
            if table not in tables:
                continue
            first, *count = self._raw(sql)[0]
            if table == "ledger_state":
                if count[0]:
                    return table, None
            elif first is not None:
                return table, first if isinstance(first, int) else None
        return None

    def digests_of(self, indices: Sequence[int]) -> dict[int, str]:
        """The stored ``payload_sha256`` of each of ``indices`` that exists."""
        out: dict[int, str] = {}
        for start in range(0, len(indices), DIGESTS_PER_QUERY):
            chunk = tuple(indices[start : start + DIGESTS_PER_QUERY])
            marks = ", ".join(self._m for _ in chunk)
            sql = f"SELECT idx, payload_sha256 FROM entries WHERE idx IN ({marks})"  # noqa: S608 - markers only
            out.update({int(i): str(d) for i, d in self._raw(sql, chunk)})
        return out

    def checked_rows_between(self, start: int, end: int) -> list[CheckedRow]:
        """Entries with ``start <= idx < end`` in index order, as :data:`CheckedRow` tuples."""
        return self._all(
            "SELECT idx, event_id, source, type, time, received_at, payload_sha256, payload, "
            "time_utc FROM entries WHERE idx >= {m} AND idx < {m} ORDER BY idx",
            (start, end),
        )

    def refs_between(self, start: int, end: int) -> list[tuple[int, str, str]]:
        """``(idx, kind, value)`` of refs with ``start <= idx < end``, in index order.

        On SQLite an entry's refs come in the order they were written (its index on
        ``idx`` keeps them so), which is the sorted order appends write; PostgreSQL sorts
        them by code point, as Python compares strings ("C" collation). Either way a
        caller that finds another order compares sets, not lists.
        """
        return self._all(_REFS_IN_ORDER if self._m == "?" else _REFS_IN_C_ORDER, (start, end))

    def first_ref_outside(self, size: int) -> int | None:
        """The smallest index of a ref row naming no entry of ``[0, size)``."""
        rows = self._all("SELECT min(idx) FROM refs WHERE idx >= {m} OR idx < 0", (size,))
        return None if rows[0][0] is None else int(rows[0][0])


_REFS_IN_ORDER = "SELECT idx, kind, value FROM refs WHERE idx >= {m} AND idx < {m} ORDER BY idx"
_REFS_IN_C_ORDER = (
    "SELECT idx, kind, value FROM refs WHERE idx >= {m} AND idx < {m} "
    'ORDER BY idx, kind COLLATE "C", value COLLATE "C"'
)

# SQLite storage-class checks: (table, query yielding the first bad index), in order.
_CELL_CHECKS = (
    (
        "entries",
        "SELECT min(idx) FROM entries WHERE typeof(idx) != 'integer' "
        "OR typeof(payload) NOT IN ('blob', 'null') OR typeof(event_id) != 'text' "
        "OR typeof(source) != 'text' OR typeof(type) != 'text' OR typeof(time) != 'text' "
        "OR typeof(time_utc) != 'text' OR typeof(received_at) != 'text' "
        "OR typeof(payload_sha256) != 'text'",
    ),
    (
        "tiles",
        # A tile's first leaf index: idx * 256 ** (level + 1) for a tile of that level.
        "SELECT min(idx << (8 * (level + 1))) FROM tiles WHERE typeof(hashes) != 'blob' "
        "OR typeof(idx) != 'integer' OR typeof(level) != 'integer'",
    ),
    (
        "refs",
        "SELECT min(idx) FROM refs WHERE typeof(idx) != 'integer' "
        "OR typeof(kind) != 'text' OR typeof(value) != 'text'",
    ),
    (
        "ledger_state",
        "SELECT NULL, count(*) FROM ledger_state WHERE typeof(tree_size) != 'integer'",
    ),
    (
        "checkpoints",
        "SELECT min(id) FROM checkpoints WHERE typeof(tree_size) != 'integer' "
        "OR typeof(root_hash) != 'blob' OR typeof(note) != 'text'",
    ),
)
