"""C2SP tlog-tiles math: tile coordinates and paths, which tiles a node needs, entry bundles.

A tile at level ``L`` holds up to 256 consecutive hashes of tree level ``8 * L``: hash
``i`` of tile ``(L, N)`` is the Merkle Tree Hash of leaves
``[(N * 256 + i) * 256**L, (N * 256 + i + 1) * 256**L)`` (tlog-tiles, "Merkle Tree").
Tree levels between two tile levels are not stored; they are rehashed from the tile
below. Everything here is pure: the store and the HTTP client hand in the tile bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from flightlog.errors import ProofError
from flightlog.ledger import merkle
from flightlog.ledger.merkle import HASH_SIZE, NodeID

__all__ = [
    "MAX_TILE_LEVEL",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "TileID",
    "TileKey",
    "decode_bundle",
    "edge_tiles",
    "encode_bundle",
    "entries_path",
    "leaf_appends",
    "node_tile",
    "nodes_from_tiles",
    "parse_entries_path",
    "parse_tile_path",
    "split_hashes",
    "subtree_hash",
    "tile_appends",
    "tile_path",
    "tiles_for_nodes",
    "tiles_of_tree",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_TILE_LEVEL = 63
MAX_ENTRY_BYTES = 0xFFFF  # an entry bundle prefixes each entry with a big-endian uint16

TileKey = tuple[int, int]
"""A tile's ``(level, index)``, whatever its width."""

_LEVEL = r"(0|[1-9][0-9]?)"
_INDEX = r"((?:x[0-9]{3}/)*[0-9]{3})"
_WIDTH = r"(?:\.p/([1-9][0-9]{0,2}))?"
_TILE_RE = re.compile(rf"{_LEVEL}/{_INDEX}{_WIDTH}")
_ENTRIES_RE = re.compile(rf"{_INDEX}{_WIDTH}")


@dataclass(frozen=True)
class TileID:
    """One tile resource: level, index and width (256 for a full tile)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    @property
    def full(self) -> bool:
        """Whether this is a full tile (served immutable, never rewritten)."""
        return self.width == TILE_WIDTH


def _index_segments(index: int) -> str:
    """``1234067`` → ``x001/x234/067`` (tlog-tiles: zero-padded 3-digit elements)."""
    if index < 0:
        raise ValueError(f"tile index {index} is negative")
    parts = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        parts.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(parts))


def _width_suffix(width: int) -> str:
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile width {width} is not between 1 and {TILE_WIDTH}")
    return "" if width == TILE_WIDTH else f".p/{width}"


def tile_path(tile: TileID) -> str:
    """The tile's path below the log prefix, e.g. ``tile/1/x001/234.p/17``."""
    if not 0 <= tile.level <= MAX_TILE_LEVEL:
        raise ValueError(f"tile level {tile.level} is not between 0 and {MAX_TILE_LEVEL}")
    return f"tile/{tile.level}/{_index_segments(tile.index)}{_width_suffix(tile.width)}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """The path of entry bundle ``index`` of ``width`` entries, e.g. ``tile/entries/000.p/3``."""
    return f"tile/entries/{_index_segments(index)}{_width_suffix(width)}"


def _parse_index(text: str) -> int:
    value = 0
    for part in text.split("/"):
        value = value * 1000 + int(part.lstrip("x"))
    return value


def parse_tile_path(path: str) -> TileID:
    """Parse ``<L>/<N>[.p/<W>]`` (the part after ``tile/``); ValueError names what is wrong."""
    found = _TILE_RE.fullmatch(path)
    if found is None:
        raise ValueError(
            f"{path!r} is not a tile path: expected <level>/<index>[.p/<width>] with the index "
            "in x-prefixed 3-digit segments, e.g. 0/x001/234.p/17"
        )
    level = int(found.group(1))
    if level > MAX_TILE_LEVEL:
        raise ValueError(f"tile level {level} is not between 0 and {MAX_TILE_LEVEL}")
    return TileID(level, _parse_index(found.group(2)), _parse_width(found.group(3)))


def parse_entries_path(path: str) -> TileID:
    """Parse ``<N>[.p/<W>]`` (the part after ``tile/entries/``) as a level-0 tile id."""
    found = _ENTRIES_RE.fullmatch(path)
    if found is None:
        raise ValueError(
            f"{path!r} is not an entry bundle path: expected <index>[.p/<width>] with the "
            "index in x-prefixed 3-digit segments, e.g. x001/234"
        )
    return TileID(0, _parse_index(found.group(1)), _parse_width(found.group(2)))


def _parse_width(text: str | None) -> int:
    if text is None:
        return TILE_WIDTH
    width = int(text)
    if width >= TILE_WIDTH:
        raise ValueError(f"partial tile width {width} is not between 1 and {TILE_WIDTH - 1}")
    return width


def tiles_of_tree(size: int) -> list[TileID]:
    """Every tile a tree of ``size`` leaves consists of, level by level (tlog-tiles)."""
    out: list[TileID] = []
    level = 0
    count = size
    while count:
        full, rest = divmod(count, TILE_WIDTH)
        out.extend(TileID(level, n) for n in range(full))
        if rest:
            out.append(TileID(level, full, rest))
        level += 1
        count = full
    return out


def node_tile(node: NodeID) -> tuple[TileKey, int, int]:
    """Where node ``(level, index)`` lives: its tile, first hash offset and hash count.

    The node is the Merkle Tree Hash of ``count`` consecutive hashes of its tile,
    starting at ``offset``.
    """
    level, index = node
    tile_level, height = divmod(level, TILE_HEIGHT)
    first = index << height
    return (tile_level, first >> TILE_HEIGHT), first & (TILE_WIDTH - 1), 1 << height


def tiles_for_nodes(ids: Iterable[NodeID]) -> list[TileKey]:
    """The distinct tiles holding what ``ids`` need, in first-needed order."""
    return list(dict.fromkeys(node_tile(node)[0] for node in ids))


def subtree_hash(hashes: Sequence[bytes]) -> bytes:
    """Merkle Tree Hash over a power-of-two run of hashes (each a perfect subtree)."""
    level = list(hashes)
    node_hash = merkle.node_hash
    while len(level) > 1:
        level = [node_hash(level[k], level[k + 1]) for k in range(0, len(level), 2)]
    return level[0]


def split_hashes(data: bytes) -> list[bytes]:
    """A tile's bytes as its list of 32-byte hashes."""
    if len(data) % HASH_SIZE:
        raise ProofError(f"a tile of {len(data)} bytes is not a whole number of hashes")
    return [data[k : k + HASH_SIZE] for k in range(0, len(data), HASH_SIZE)]


def nodes_from_tiles(ids: Iterable[NodeID], tiles: Mapping[TileKey, bytes]) -> dict[NodeID, bytes]:
    """The hashes of complete nodes ``ids`` from tile bytes; nodes whose tile is short are left out."""
    out: dict[NodeID, bytes] = {}
    for node in ids:
        key, offset, count = node_tile(node)
        data = tiles.get(key)
        end = (offset + count) * HASH_SIZE
        if data is None or len(data) < end:
            continue
        if count == 1:
            out[node] = bytes(data[offset * HASH_SIZE : end])
        else:
            out[node] = subtree_hash(split_hashes(bytes(data[offset * HASH_SIZE : end])))
    return out


def tile_appends(completed: Iterable[tuple[int, int, bytes]]) -> dict[TileKey, list[bytes]]:
    """Group nodes completed by appends (``(level, index, hash)``) into the tiles they extend.

    Only nodes on a tile level are stored; within a tile they arrive in index order.
    """
    out: dict[TileKey, list[bytes]] = {}
    for level, index, value in completed:
        if level % TILE_HEIGHT == 0:
            key = (level // TILE_HEIGHT, index >> TILE_HEIGHT)
            out.setdefault(key, []).append(value)
    return out


def leaf_appends(first: int, leaves: Sequence[bytes]) -> dict[TileKey, list[bytes]]:
    """Group leaf hashes appended from index ``first`` on into the level-0 tiles they extend."""
    out: dict[TileKey, list[bytes]] = {}
    pos = 0
    index = first
    while pos < len(leaves):
        take = min(TILE_WIDTH - (index & (TILE_WIDTH - 1)), len(leaves) - pos)
        out[(0, index >> TILE_HEIGHT)] = list(leaves[pos : pos + take])
        pos += take
        index += take
    return out


def edge_tiles(size: int) -> list[TileKey]:
    """The partial tiles of a tree of ``size`` leaves (one per level at most)."""
    return [(t.level, t.index) for t in tiles_of_tree(size) if not t.full]


def encode_bundle(entries: Iterable[bytes]) -> bytes:
    """An entry bundle: each entry prefixed with its length as a big-endian uint16."""
    parts: list[bytes] = []
    for entry in entries:
        if len(entry) > MAX_ENTRY_BYTES:
            raise ValueError(f"an entry of {len(entry)} bytes does not fit an entry bundle")
        parts.append(len(entry).to_bytes(2, "big"))
        parts.append(entry)
    return b"".join(parts)


def decode_bundle(data: bytes) -> list[bytes]:
    """The entries of an entry bundle; ProofError when it is truncated."""
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise ProofError(f"entry bundle truncated in a length prefix at byte {pos}")
        length = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if pos + length > len(data):
            raise ProofError(f"entry bundle truncated inside entry {len(out)}")
        out.append(data[pos : pos + length])
        pos += length
    return out
