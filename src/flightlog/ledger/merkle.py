"""RFC 9162 Merkle tree hashing, compact ranges, and inclusion/consistency proofs.

Complete subtrees are named ``(level, index)``: node ``(L, i)`` covers leaves
``[i << L, (i + 1) << L)`` and level 0 holds the leaf hashes (the store keeps them as
tlog-tiles, see :mod:`flightlog.ledger.tiles`). A proof is built in three steps: a plan
names the complete nodes it needs (O(log n) of them), the store reads the tiles holding
them, and the plan assembles the RFC 9162 proof, rehashing the incomplete right-edge
subtree from its complete parts.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flightlog.errors import ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "CompactRange",
    "NodeID",
    "ProofPlan",
    "consistency_plan",
    "frontier_ids",
    "inclusion_plan",
    "leaf_hash",
    "node_hash",
    "parent_level",
    "root_from_frontier",
    "root_from_inclusion_proof",
    "root_plan",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
# RFC 9162 §2.1.1: domain separation between leaf and interior node hashes.
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
# RFC 9162 §2.1.1: MTH({}) = SHA-256().
EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()

NodeID = tuple[int, int]

_sha256 = hashlib.sha256
_compare = hmac.compare_digest


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 9162 leaf hash SHA-256(0x00 || data)."""
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash SHA-256(0x01 || left || right)."""
    return _sha256(NODE_PREFIX + left + right).digest()


def parent_level(hashes: Sequence[bytes]) -> list[bytes]:
    """The node hashes over consecutive pairs of ``hashes`` (an odd last one has none)."""
    pairs = iter(hashes)
    sha256, prefix = _sha256, NODE_PREFIX
    return [
        sha256(prefix + left + right).digest() for left, right in zip(pairs, pairs, strict=False)
    ]


def _range_ids(begin: int, end: int) -> list[NodeID]:
    """Return the perfect subtrees covering [begin, end), left to right, largest first.

    ``begin`` must be a multiple of a power of two larger than ``end - begin``, which holds
    for every range this module asks about (a prefix, or the right part of a fork node).
    """
    ids: list[NodeID] = []
    count = end - begin
    level = count.bit_length()
    while level:
        level -= 1
        if count >> level & 1:
            ids.append((level, begin >> level))
            begin += 1 << level
    return ids


def frontier_ids(size: int) -> list[NodeID]:
    """Return the perfect subtrees composing [0, size), left to right (largest first)."""
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    return _range_ids(0, size)


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Hash adjacent perfect subtrees (largest first) into the MTH of their union."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for i in range(len(hashes) - 2, -1, -1):
        root = _sha256(NODE_PREFIX + hashes[i] + root).digest()
    return root


def root_from_frontier(hashes: Sequence[bytes]) -> bytes:
    """Return the MTH of a tree from the hashes of its ``frontier_ids``; EMPTY_ROOT for []."""
    for position, value in enumerate(hashes):
        if len(value) != HASH_SIZE:
            raise ValueError(
                f"frontier hash {position} has {len(value)} bytes, expected {HASH_SIZE}"
            )
    return _fold(hashes)


class CompactRange:
    """The right edge of a growing tree: enough state to append and compute the root."""

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        """Start from a tree of ``size`` leaves given the hashes of ``frontier_ids(size)``."""
        if size < 0:
            raise ValueError(f"tree size {size} is negative")
        expected = size.bit_count()
        if len(hashes) != expected:
            raise ValueError(f"tree size {size} has {expected} frontier hashes, got {len(hashes)}")
        for position, value in enumerate(hashes):
            if len(value) != HASH_SIZE:
                raise ValueError(
                    f"frontier hash {position} has {len(value)} bytes, expected {HASH_SIZE}"
                )
        self._size = size
        self._hashes = [bytes(value) for value in hashes]

    @property
    def size(self) -> int:
        """Return the number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """Return the hashes of ``frontier_ids(size)``, left to right."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Append a leaf hash; return every node it completes, (level, index, hash), bottom-up."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash has {len(leaf_hash)} bytes, expected {HASH_SIZE}")
        index = self._size
        stack = self._hashes
        completed = [(0, index, leaf_hash)]
        value = leaf_hash
        level = 0
        # Each trailing one bit of the old size is a perfect left sibling now completed.
        while index & 1:
            value = _sha256(NODE_PREFIX + stack.pop() + value).digest()
            level += 1
            index >>= 1
            completed.append((level, index, value))
        stack.append(value)
        self._size += 1
        return completed

    def root(self) -> bytes:
        """Return the MTH of the tree appended so far."""
        return _fold(self._hashes)

    def __repr__(self) -> str:
        """Show the size and the root, which identify the tree."""
        return f"CompactRange(size={self._size}, root={self.root().hex()})"


@dataclass(frozen=True)
class ProofPlan:
    """The complete nodes a proof needs, and how to assemble the proof from them.

    ``ids`` are distinct and in proof order; ``layout`` gives, for each proof hash, how
    many consecutive ``ids`` it folds (1 for a complete node; more for the incomplete
    right-edge subtree, rehashed from its perfect parts, largest first).
    """

    ids: tuple[NodeID, ...]
    layout: tuple[int, ...]

    def assemble(self, hashes: Mapping[NodeID, bytes]) -> list[bytes]:
        """Return the proof in RFC 9162 order from the fetched hashes of ``ids``."""
        fetched: list[bytes] = []
        for node in self.ids:
            value = hashes.get(node)
            if value is None:
                raise ProofError(f"tree node (level {node[0]}, index {node[1]}) is missing")
            if len(value) != HASH_SIZE:
                raise ProofError(
                    f"tree node (level {node[0]}, index {node[1]}) has {len(value)} bytes,"
                    f" expected {HASH_SIZE}"
                )
            fetched.append(value)
        if len(self.layout) == len(fetched):
            return fetched
        proof: list[bytes] = []
        start = 0
        for count in self.layout:
            proof.append(fetched[start] if count == 1 else _fold(fetched[start : start + count]))
            start += count
        return proof


def _node_path(level: int, index: int, size: int) -> ProofPlan:
    """Return the plan proving complete node (level, index) is in the tree of ``size``.

    The path from the node upward meets the path to the last leaf at the fork node,
    ``inner`` levels up. Below the fork the siblings are complete nodes; the fork's right
    child is the incomplete right-edge subtree, rehashed from its complete parts; above the
    fork every sibling is a complete left subtree of the frontier (RFC 9162 §2.1.3.1).
    """
    inner = (index ^ ((size - 1) >> level)).bit_length()
    ids = [(level + step, (index >> step) ^ 1) for step in range(inner - 1)]
    layout = [1] * len(ids)
    if inner:
        right = _range_ids(((index >> (inner - 1)) | 1) << (level + inner - 1), size)
        ids.extend(right)
        layout.append(len(right))
    left = _range_ids(0, (index >> inner) << (level + inner))
    left.reverse()
    ids.extend(left)
    layout.extend([1] * len(left))
    return ProofPlan(ids=tuple(ids), layout=tuple(layout))


def inclusion_plan(index: int, size: int) -> ProofPlan:
    """Return the plan for the RFC 9162 inclusion proof of leaf ``index`` in tree ``size``."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is not in a tree of size {size}")
    return _node_path(0, index, size)


def consistency_plan(first: int, second: int) -> ProofPlan:
    """Return the plan for the RFC 9162 consistency proof between tree sizes first and second."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from tree size {first} to tree size {second}")
    if first in (0, second):
        return ProofPlan(ids=(), layout=())
    # RFC 9162 §2.1.4.1: the proof is the largest perfect subtree ending at ``first`` (left
    # out when ``first`` is a power of two: the verifier holds it as the old root) followed
    # by that subtree's inclusion path in the tree of size ``second``.
    level = (first & -first).bit_length() - 1
    index = (first - 1) >> level
    path = _node_path(level, index, second)
    if not index:
        return path
    return ProofPlan(ids=((level, index), *path.ids), layout=(1, *path.layout))


def root_plan(size: int) -> ProofPlan:
    """Return the plan whose ``assemble`` gives ``[root]`` of the tree of ``size``."""
    ids = tuple(frontier_ids(size))
    return ProofPlan(ids=ids, layout=(len(ids),))


def _check_hash(what: str, value: bytes) -> None:
    """Raise ProofError unless ``value`` has the length of a SHA-256 hash."""
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} has {len(value)} bytes, expected {HASH_SIZE}")


def _check_proof_hashes(proof: Sequence[bytes], expected: int) -> None:
    """Raise ProofError unless ``proof`` holds ``expected`` hashes of the right length."""
    if len(proof) != expected:
        raise ProofError(f"proof has {len(proof)} hashes, expected {expected}")
    for position, value in enumerate(proof):
        _check_hash(f"proof hash {position}", value)


def _check_match(what: str, computed: bytes, claimed: bytes) -> None:
    """Raise ProofError unless the computed hash equals the claimed one."""
    if not _compare(computed, claimed):
        raise ProofError(f"computed {what} {computed.hex()} does not match {claimed.hex()}")


def root_from_inclusion_proof(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """Return the root an inclusion proof implies (RFC 9162 §2.1.3.2); ProofError if malformed."""
    if index < 0 or size < 0:
        raise ProofError(f"index {index} and tree size {size} must not be negative")
    if index >= size:
        raise ProofError(f"index {index} is beyond tree size {size}")
    _check_hash("leaf hash", leaf_hash)
    inner = (index ^ (size - 1)).bit_length()
    _check_proof_hashes(proof, inner + (index >> inner).bit_count())
    # RFC 9162 §2.1.3.2 step by step; sn is checked again at the end so a miscount fails closed.
    fn = index
    sn = size - 1
    result = leaf_hash
    for sibling in proof:
        if fn & 1 or fn == sn:
            result = _sha256(NODE_PREFIX + sibling + result).digest()
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            result = _sha256(NODE_PREFIX + result + sibling).digest()
        fn >>= 1
        sn >>= 1
    if sn:
        raise ProofError(f"proof is too short for index {index} in tree size {size}")
    return result


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``."""
    _check_hash("root", root)
    computed = root_from_inclusion_proof(index, size, leaf_hash, proof)
    _check_match("root", computed, root)


def _verify_trivial_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check the cases RFC 9162 §2.1.4 leaves out: equal sizes, and the empty first tree."""
    if proof:
        raise ProofError(f"proof has {len(proof)} hashes, expected 0 from tree size {first}")
    if first == 0:
        # The empty tree has a fixed root (RFC 9162 §2.1.1), and every tree extends it.
        _check_match("root of the empty tree", EMPTY_ROOT, first_root)
    if first == second:
        # A tree is consistent with itself and nothing else.
        _check_match("first root", first_root, second_root)
    else:
        _check_hash("second root", second_root)


def _consistency_roots(first: int, second: int, path: Sequence[bytes]) -> tuple[bytes, bytes]:
    """Return the (first, second) roots a consistency path implies (RFC 9162 §2.1.4.2)."""
    fn = first - 1
    sn = second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first_result = second_result = path[0]
    for position in range(1, len(path)):
        value = path[position]
        if sn == 0:
            raise ProofError(f"proof is too long for tree sizes {first} and {second}")
        if fn & 1 or fn == sn:
            first_result = _sha256(NODE_PREFIX + value + first_result).digest()
            second_result = _sha256(NODE_PREFIX + value + second_result).digest()
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            second_result = _sha256(NODE_PREFIX + second_result + value).digest()
        fn >>= 1
        sn >>= 1
    if sn:
        raise ProofError(f"proof is too short for tree sizes {first} and {second}")
    return first_result, second_result


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of size ``first`` is a prefix of the tree of size ``second``."""
    if first < 0 or second < 0:
        raise ProofError(f"tree sizes {first} and {second} must not be negative")
    if first > second:
        raise ProofError(f"first tree size {first} is larger than second tree size {second}")
    if first in (0, second):
        _verify_trivial_consistency(first, second, first_root, second_root, proof)
        return
    _check_hash("first root", first_root)
    _check_hash("second root", second_root)
    level = (first & -first).bit_length() - 1
    index = (first - 1) >> level
    inner = (index ^ ((second - 1) >> level)).bit_length()
    # RFC 9162 §2.1.4.2 step 2: when first is a power of two its root starts the path.
    seeded = 1 if index else 0
    _check_proof_hashes(proof, seeded + inner + (index >> inner).bit_count())
    path = proof if seeded else [first_root, *proof]
    first_result, second_result = _consistency_roots(first, second, path)
    _check_match("first root", first_result, first_root)
    _check_match("second root", second_result, second_root)
