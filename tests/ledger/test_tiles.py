"""tlog-tiles math: paths, the tiles of a tree, nodes read back from tiles, entry bundles."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flightlog.errors import ProofError
from flightlog.ledger import merkle
from flightlog.ledger.tiles import (
    TileID,
    decode_bundle,
    encode_bundle,
    entries_path,
    leaf_appends,
    nodes_from_tiles,
    parse_entries_path,
    parse_tile_path,
    tile_appends,
    tile_path,
    tiles_for_nodes,
    tiles_of_tree,
)
from flightlog.store.tiles import grow_tiles


def _mth(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(str(i).encode()) for i in range(n)]


class TestPaths:
    def test_spec_example(self) -> None:
        """Index 1234067 is x001/x234/067, as the spec writes it."""
        assert tile_path(TileID(0, 1234067)) == "tile/0/x001/x234/067"
        assert tile_path(TileID(2, 5, 17)) == "tile/2/005.p/17"
        assert entries_path(1000, 3) == "tile/entries/x001/000.p/3"

    @pytest.mark.parametrize("index", [0, 7, 999, 1000, 1234067, 10**9 + 5])
    def test_round_trip(self, index: int) -> None:
        """Every path parses back to the tile it names."""
        for tile in (TileID(3, index), TileID(0, index, 1), TileID(63, index, 255)):
            assert parse_tile_path(tile_path(tile).removeprefix("tile/")) == tile
        assert parse_entries_path(entries_path(index, 9).removeprefix("tile/entries/")) == (
            TileID(0, index, 9)
        )

    @pytest.mark.parametrize(
        ("path", "message"),
        [
            ("0/1", "not a tile path"),
            ("0/x001", "not a tile path"),
            ("01/000", "not a tile path"),
            ("0/000.p/0", "not a tile path"),
            ("0/000.p/256", "between 1 and 255"),
            ("64/000", "between 0 and 63"),
            ("0/000/", "not a tile path"),
        ],
    )
    def test_malformed(self, path: str, message: str) -> None:
        """Each malformed path is refused with a message naming the problem."""
        with pytest.raises(ValueError, match=message):
            parse_tile_path(path)


class TestTilesOfTree:
    def test_spec_example(self) -> None:
        """A tree of 70,000: 273 full level-0 tiles, then widths 112, 1 full, 17 and 1."""
        tiles = tiles_of_tree(70000)
        level0 = [t for t in tiles if t.level == 0]
        assert len(level0) == 274
        assert level0[-1] == TileID(0, 273, 112)
        assert [t for t in tiles if t.level == 1] == [TileID(1, 0), TileID(1, 1, 17)]
        assert [t for t in tiles if t.level == 2] == [TileID(2, 0, 1)]

    def test_256(self) -> None:
        """A tree of 256 is one full level-0 tile and a level-1 tile of width 1."""
        assert tiles_of_tree(256) == [TileID(0, 0), TileID(1, 0, 1)]


class TestNodesFromTiles:
    @settings(max_examples=40, deadline=None)
    @given(sizes=st.lists(st.integers(1, 700), min_size=1, max_size=4))
    def test_appended_tiles_hold_every_complete_node(self, sizes: list[int]) -> None:
        """Tiles grown batch by batch give every complete node and root of the tree."""
        leaves = _leaves(sum(sizes))
        tree = merkle.CompactRange()
        edge: dict[tuple[int, int], bytes] = {}
        stored: dict[tuple[int, int], bytes] = {}
        start = 0
        for n in sizes:
            batch = leaves[start : start + n]
            upper = [x for lh in batch for x in tree.append(lh) if x[0]]
            appends = leaf_appends(start, batch)
            appends.update(tile_appends(upper))
            rows, edge = grow_tiles(edge, appends)
            stored.update({(level, idx): data for level, idx, data in rows})
            start += n
        size = len(leaves)
        assert {(t.level, t.index) for t in tiles_of_tree(size)} == set(stored)
        ids = [(lv, i) for lv in range(12) for i in range(size >> lv)]
        got = nodes_from_tiles(ids, stored)
        assert got == {(lv, i): _mth(leaves[i << lv : (i + 1) << lv]) for lv, i in ids}
        plan = merkle.root_plan(size)
        assert plan.assemble(nodes_from_tiles(plan.ids, stored))[0] == _mth(leaves)
        assert set(tiles_for_nodes(plan.ids)) <= set(stored)


class TestBundles:
    def test_round_trip(self) -> None:
        """Length-prefixed entries decode to themselves, empty entries included."""
        entries = [b"", b"a", b"x" * 300, hashlib.sha256(b"").digest()]
        data = encode_bundle(entries)
        assert data[:3] == b"\x00\x00\x00"
        assert decode_bundle(data) == entries

    def test_truncated(self) -> None:
        """A bundle cut inside an entry fails, naming the entry."""
        with pytest.raises(ProofError, match="inside entry 1"):
            decode_bundle(encode_bundle([b"ab", b"cdef"])[:-1])
