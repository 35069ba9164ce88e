"""Tile rows: reading tiles, the nodes they hold and entry bundles; writing the tiles appends grow."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flightlog.errors import NotFound, StoreError
from flightlog.ledger import merkle, tiles
from flightlog.ledger.entry import leaf_bytes_of
from flightlog.ledger.tiles import TILE_HEIGHT, TILE_WIDTH, TileID, TileKey

if TYPE_CHECKING:
    # Types only: verification workers import this module without the SQL toolkit.
    import sqlalchemy as sa

    from flightlog.store.snapshot import LedgerSnapshot

_TILE_CHUNK = 400  # two parameters each, under SQLite's 999-parameter floor
FULL_BYTES = TILE_WIDTH * merkle.HASH_SIZE

Run = Callable[[str, tuple[Any, ...]], Iterable[Any]]
"""Runs SQL with positional parameters and yields result rows (a driver cursor's shape)."""


def fetch_tiles(run: Run, marker: str, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
    """Stored tiles by ``(level, index)`` with primary-key lookups only.

    ``(level = ? AND idx = ?) OR …`` is planned as one index search per term on both
    databases; a row-value ``(level, idx) IN (…)`` makes SQLite scan the table.
    """
    unique = list(dict.fromkeys(keys))
    out: dict[TileKey, bytes] = {}
    for start in range(0, len(unique), _TILE_CHUNK):
        chunk = unique[start : start + _TILE_CHUNK]
        terms = " OR ".join(f"(level = {marker} AND idx = {marker})" for _ in chunk)
        sql = f"SELECT level, idx, hashes FROM tiles WHERE {terms}"  # noqa: S608 - markers only
        for level, idx, data in run(sql, tuple(x for key in chunk for x in key)):
            out[(int(level), int(idx))] = bytes(data)
    return out


def fetch_nodes(run: Run, marker: str, ids: Sequence[merkle.NodeID]) -> dict[merkle.NodeID, bytes]:
    """Complete-subtree hashes by id, rehashed from the tiles that hold them."""
    return tiles.nodes_from_tiles(ids, fetch_tiles(run, marker, tiles.tiles_for_nodes(ids)))


def driver_run(conn: sa.Connection) -> tuple[Run, str]:
    """A :data:`Run` over ``conn``'s driver and its parameter marker."""
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return conn.exec_driver_sql, marker


def load_edge(conn: sa.Connection, size: int) -> tuple[merkle.CompactRange, dict[TileKey, bytes]]:
    """The frontier of a tree of ``size`` leaves and its partial tiles, from stored tiles."""
    run, marker = driver_run(conn)
    ids = merkle.frontier_ids(size)
    edge_keys = tiles.edge_tiles(size)
    found = fetch_tiles(run, marker, [*tiles.tiles_for_nodes(ids), *edge_keys])
    nodes = tiles.nodes_from_tiles(ids, found)
    missing = [i for i in ids if i not in nodes] + [k for k in edge_keys if k not in found]
    if missing:
        raise StoreError(
            f"the Merkle tree is damaged: tiles holding {missing} are missing or short; "
            "run flightlog verify"
        )
    return merkle.CompactRange(size, [nodes[i] for i in ids]), {k: found[k] for k in edge_keys}


def grow_tiles(
    edge: Mapping[TileKey, bytes], appends: Mapping[TileKey, Sequence[bytes]]
) -> tuple[list[tuple[int, int, bytes]], dict[TileKey, bytes]]:
    """Rows to upsert for the hashes appends add to each tile, and the new partial tiles.

    Appended hashes extend the partial tile they belong to, or start a new tile; nothing
    else is ever rewritten.
    """
    rows: list[tuple[int, int, bytes]] = []
    new_edge = dict(edge)
    for key, hashes in appends.items():
        data = new_edge.pop(key, b"") + b"".join(hashes)
        rows.append((key[0], key[1], data))
        if len(data) < FULL_BYTES:
            new_edge[key] = data
    return rows, new_edge


def upsert_tiles(conn: sa.Connection, rows: Sequence[tuple[int, int, bytes]]) -> None:
    """Write grown tiles in one driver executemany (insert, or replace a partial tile)."""
    if not rows:
        return
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(
        f"INSERT INTO tiles (level, idx, hashes) VALUES ({marker}, {marker}, {marker}) "  # noqa: S608 - markers only
        "ON CONFLICT (level, idx) DO UPDATE SET hashes = excluded.hashes",
        list(rows),
    )


def _available(size: int, tile: TileID) -> int:
    """How many hashes tile ``(level, index)`` holds in a tree of ``size`` leaves."""
    count = size >> (TILE_HEIGHT * tile.level)
    return max(0, min(TILE_WIDTH, count - tile.index * TILE_WIDTH))


def _check_width(size: int, tile: TileID, what: str) -> None:
    """NotFound unless the tree of ``size`` leaves has ``tile`` at its requested width."""
    have = _available(size, tile)
    if have == 0:
        raise NotFound(f"{what} is beyond the tree ({size} entries)")
    if tile.width > have:
        hint = "" if have == TILE_WIDTH else f"; it is partial, width {have} (.p/{have})"
        raise NotFound(
            f"{what} has {have} of {tile.width} hashes in the tree of {size} entries{hint}"
        )


def read_tile(snap: LedgerSnapshot, tile: TileID) -> bytes:
    """The bytes of ``tile`` (its first ``width`` hashes); NotFound beyond the tree."""
    size = snap.tree_size()
    what = f"tile {tile.level}/{tile.index}" + ("" if tile.full else f" of width {tile.width}")
    _check_width(size, tile, what)
    data = snap.tiles([(tile.level, tile.index)]).get((tile.level, tile.index), b"")
    end = tile.width * merkle.HASH_SIZE
    if len(data) < end:
        raise StoreError(f"{what} is missing from the store; run flightlog verify")
    return data[:end]


def read_entry_bundle(snap: LedgerSnapshot, tile: TileID) -> bytes:
    """Entry bundle ``tile.index``: the RFC 8785 leaf bytes of its ``width`` entries."""
    size = snap.tree_size()
    what = f"entry bundle {tile.index}" + ("" if tile.full else f" of width {tile.width}")
    _check_width(size, TileID(0, tile.index, tile.width), what)
    start = tile.index * TILE_WIDTH
    rows = snap.leaves_between(start, start + tile.width)
    if len(rows) != tile.width:
        raise StoreError(f"{what} is missing entries; run flightlog verify")
    return tiles.encode_bundle(leaf_bytes_of(*row[1:]) for row in rows)
