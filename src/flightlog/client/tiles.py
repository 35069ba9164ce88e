"""A tlog-tiles client: check a whole log from its tiles and entry bundles alone.

Given a checkpoint already verified against a trusted key, it fetches every entry
bundle and the tiles over them, recomputes each leaf hash from the bundle's leaf
bytes, checks every served tile hash against the recomputed tree, and requires the
recomputed root to be the checkpoint's. Memory stays O(log n): the tree is folded
as it is read.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from flightlog.errors import AuthError, ForbiddenError, ProofError, RemoteError
from flightlog.ledger import merkle
from flightlog.ledger.entry import LEAF_FIELDS, leaf_bytes
from flightlog.ledger.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    TileID,
    decode_bundle,
    entries_path,
    split_hashes,
    tile_path,
)

__all__ = ["FullCheck", "TileClient", "verify_tiles"]

PREFETCH = 8
"""Entry bundles (and their leaf tiles) requested ahead of the one being checked."""


@dataclass(frozen=True)
class FullCheck:
    """What checking a log from its tiles established."""

    tree_size: int
    root: bytes
    entries_checked: int
    tiles_checked: int


class TileClient:
    """Fetches tiles and entry bundles of the tlog-tiles log served at ``base_url``."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        """Talk to ``base_url``, sending ``token`` as a bearer token when given."""
        headers = {"User-Agent": "flightlog-tiles"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        """Close the connections."""
        self._client.close()

    def __enter__(self) -> TileClient:
        """Use the client as a context manager that closes it."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the client."""
        self.close()

    def get(self, path: str) -> bytes:
        """The body of ``path``; a domain error naming the path otherwise."""
        try:
            response = self._client.get(path)
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot fetch {path}: {exc}") from exc
        if response.status_code == 200:
            return response.content
        detail = _detail(response)
        if response.status_code == 401:
            raise AuthError(f"{path}: {detail}")
        if response.status_code == 403:
            raise ForbiddenError(f"{path}: {detail}")
        raise RemoteError(f"{path}: HTTP {response.status_code}: {detail}")

    def checkpoint(self) -> str:
        """The log's latest checkpoint note (unverified)."""
        return self.get("checkpoint").decode("utf-8")

    def tile(self, tile: TileID) -> bytes:
        """One tile's bytes, checked to hold exactly ``width`` hashes."""
        data = self.get(tile_path(tile))
        if len(data) != tile.width * merkle.HASH_SIZE:
            raise ProofError(
                f"{tile_path(tile)} has {len(data)} bytes, expected {tile.width * merkle.HASH_SIZE}"
            )
        return data

    def bundle(self, index: int, width: int) -> list[bytes]:
        """One entry bundle's entries, checked to hold exactly ``width`` of them."""
        path = entries_path(index, width)
        entries = decode_bundle(self.get(path))
        if len(entries) != width:
            raise ProofError(f"{path} holds {len(entries)} entries, expected {width}")
        return entries


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)


def _check_leaf(entry: bytes, index: int) -> None:
    """An entry must be the canonical leaf object (so its fields are the ones committed)."""
    try:
        leaf = json.loads(entry)
        ok = (
            isinstance(leaf, dict)
            and sorted(leaf) == sorted(LEAF_FIELDS)
            and all(isinstance(v, str) for v in leaf.values())
            and leaf_bytes(leaf) == entry
        )
    except ValueError:
        ok = False
    if not ok:
        raise ProofError(f"entry {index} in its bundle is not a canonical Flightlog leaf object")


def _fetched(client: TileClient, size: int) -> Iterator[tuple[int, list[bytes], bytes]]:
    """``(bundle index, entries, leaf tile)`` in order, fetched a few bundles ahead."""
    count = -(-size // TILE_WIDTH)

    def fetch(n: int) -> tuple[int, list[bytes], bytes]:
        width = min(TILE_WIDTH, size - n * TILE_WIDTH)
        return n, client.bundle(n, width), client.tile(TileID(0, n, width))

    with ThreadPoolExecutor(max_workers=4) as pool:
        pending = deque(pool.submit(fetch, n) for n in range(min(PREFETCH, count)))
        ahead = len(pending)
        while pending:
            result = pending.popleft().result()
            if ahead < count:
                pending.append(pool.submit(fetch, ahead))
                ahead += 1
            yield result


def verify_tiles(
    client: TileClient,
    tree_size: int,
    root: bytes,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> FullCheck:
    """Check every entry and tile of the tree of ``tree_size`` leaves against ``root``."""
    tree = merkle.CompactRange()
    upper: dict[int, tuple[int, list[bytes]]] = {}  # tile level → (tile index, its hashes)
    tiles_checked = 0

    def served(level: int, index: int) -> bytes:
        """The served hash of tree node ``(level, index)``, level a multiple of 8."""
        nonlocal tiles_checked
        tile_level = level // TILE_HEIGHT
        key = index // TILE_WIDTH
        held = upper.get(tile_level)
        if held is None or held[0] != key:
            width = min(TILE_WIDTH, (tree_size >> level) - key * TILE_WIDTH)
            held = upper[tile_level] = (
                key,
                split_hashes(client.tile(TileID(tile_level, key, width))),
            )
            tiles_checked += 1
        return held[1][index % TILE_WIDTH]

    for n, entries, tile in _fetched(client, tree_size):
        served_leaves = split_hashes(tile)
        tiles_checked += 1
        for k, entry in enumerate(entries):
            index = n * TILE_WIDTH + k
            _check_leaf(entry, index)
            computed = merkle.leaf_hash(entry)
            if computed != served_leaves[k]:
                raise ProofError(
                    f"entry {index}: its leaf hash in {tile_path(TileID(0, n, len(entries)))} "
                    "does not match its entry bundle"
                )
            for level, idx, value in tree.append(computed):
                if level and level % TILE_HEIGHT == 0 and served(level, idx) != value:
                    raise ProofError(
                        f"the served Merkle node at level {level}, index {idx} does not match "
                        "the entries below it"
                    )
        if progress is not None:
            progress(min(tree_size, (n + 1) * TILE_WIDTH), tree_size)
    computed_root = tree.root()
    if computed_root != root:
        raise ProofError(
            f"the root recomputed from the tiles, {computed_root.hex()}, is not the "
            f"checkpoint's {root.hex()}"
        )
    return FullCheck(tree_size, computed_root, tree.size, tiles_checked)
