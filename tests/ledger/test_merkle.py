"""Tests for the RFC 9162 Merkle core: hashes, compact ranges, proof plans, verification."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flightlog.errors import ProofError
from flightlog.ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    NodeID,
    ProofPlan,
    consistency_plan,
    frontier_ids,
    inclusion_plan,
    leaf_hash,
    node_hash,
    parent_level,
    root_from_frontier,
    root_from_inclusion_proof,
    root_plan,
    verify_consistency,
    verify_inclusion,
)
from tests.ledger.merkle_reference import ReferenceTree
from tests.paths import CORPUS

TESTDATA = CORPUS / "tlog" / "merkle-testdata"
INCLUSION_VECTORS = sorted(TESTDATA.glob("inclusion/**/*.json"))
CONSISTENCY_VECTORS = sorted(TESTDATA.glob("consistency/**/*.json"))

# The eight entries of the RFC 6962 example tree that the transparency-dev vectors use.
RFC6962_ENTRIES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]


def _vector_id(path: Path) -> str:
    """Name a vector by its path under the test data directory."""
    return path.relative_to(TESTDATA).as_posix()


def _load(path: Path) -> dict[str, Any]:
    """Read one JSON test vector."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _b64(value: str) -> bytes:
    """Decode a base64 field of a test vector."""
    return base64.b64decode(value)


def _proof(vector: dict[str, Any]) -> list[bytes]:
    """Decode the (possibly null) proof of a test vector."""
    return [_b64(item) for item in vector["proof"] or []]


def _complete_nodes(leaves: list[bytes]) -> tuple[dict[NodeID, bytes], list[bytes]]:
    """Append the leaves; return every completed node by id and the root at each size."""
    tree = CompactRange()
    nodes: dict[NodeID, bytes] = {}
    roots = [tree.root()]
    for value in leaves:
        for level, index, digest in tree.append(value):
            assert (level, index) not in nodes
            nodes[level, index] = digest
        roots.append(tree.root())
    return nodes, roots


def _entries(count: int, salt: bytes) -> list[bytes]:
    """Return ``count`` distinct entries, so that no two leaves share a hash."""
    return [index.to_bytes(4, "big") + salt for index in range(count)]


def _flip(value: bytes, bit: int) -> bytes:
    """Return ``value`` with one bit inverted."""
    position = bit % (len(value) * 8)
    changed = bytearray(value)
    changed[position // 8] ^= 1 << (position % 8)
    return bytes(changed)


class TestHashes:
    """Known answers for the hash primitives (RFC 9162 §2.1.1, RFC 6962 test tree)."""

    def test_empty_root_is_sha256_of_nothing(self) -> None:
        """The root of the empty tree is SHA-256 of the empty string."""
        assert EMPTY_ROOT.hex() == (
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )

    def test_leaf_hash_of_empty_entry(self) -> None:
        """The leaf hash of the empty entry matches RFC 6962 and the corpus vectors."""
        expected = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        assert leaf_hash(b"").hex() == expected
        assert leaf_hash(b"") == _b64(_load(TESTDATA / "inclusion/0/happy-path.json")["leafHash"])

    def test_two_leaf_root(self) -> None:
        """The root of the first two RFC 6962 entries matches the known value."""
        root = node_hash(leaf_hash(RFC6962_ENTRIES[0]), leaf_hash(RFC6962_ENTRIES[1]))
        expected = "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
        assert root.hex() == expected
        assert root == _b64(_load(TESTDATA / "consistency/3/happy-path.json")["root1"])

    @pytest.mark.parametrize(
        ("size", "vector", "field"),
        [
            (3, "inclusion/3/happy-path.json", "root"),
            (5, "inclusion/4/happy-path.json", "root"),
            (6, "consistency/2/happy-path.json", "root1"),
            (7, "consistency/4/happy-path.json", "root2"),
            (8, "consistency/1/happy-path.json", "root2"),
        ],
    )
    def test_rfc6962_tree_roots(self, size: int, vector: str, field: str) -> None:
        """Appending the RFC 6962 entries yields the roots the corpus vectors commit to."""
        tree = CompactRange()
        for entry in RFC6962_ENTRIES[:size]:
            tree.append(leaf_hash(entry))
        assert tree.root() == _b64(_load(TESTDATA / vector)[field])

    def test_node_hash_is_ordered(self) -> None:
        """Swapping the children changes the node hash (0x01 || left || right)."""
        left, right = leaf_hash(b"a"), leaf_hash(b"b")
        assert node_hash(left, right) != node_hash(right, left)
        assert node_hash(left, right) != leaf_hash(left + right)

    @pytest.mark.parametrize("count", [0, 1, 2, 5, 8])
    def test_parent_level_hashes_pairs(self, count: int) -> None:
        """parent_level is node_hash over consecutive pairs; an odd last hash has no parent."""
        hashes = [leaf_hash(bytes([i])) for i in range(count)]
        expected = [node_hash(hashes[k], hashes[k + 1]) for k in range(0, count - 1, 2)]
        assert parent_level(hashes) == expected
        assert len(expected) == count // 2


class TestFrontier:
    """The perfect subtrees composing a tree prefix."""

    @pytest.mark.parametrize(
        ("size", "expected"),
        [
            (0, []),
            (1, [(0, 0)]),
            (2, [(1, 0)]),
            (7, [(2, 0), (1, 2), (0, 6)]),
            (8, [(3, 0)]),
            (13, [(3, 0), (2, 2), (0, 12)]),
        ],
    )
    def test_frontier_ids(self, size: int, expected: list[NodeID]) -> None:
        """The frontier lists one node per set bit of the size, largest first."""
        assert frontier_ids(size) == expected

    def test_frontier_rejects_negative_size(self) -> None:
        """A negative size has no frontier."""
        with pytest.raises(ValueError, match="negative"):
            frontier_ids(-1)

    def test_root_from_empty_frontier(self) -> None:
        """The empty frontier is the empty tree."""
        assert root_from_frontier([]) == EMPTY_ROOT

    def test_root_from_frontier_rejects_short_hash(self) -> None:
        """A frontier hash of the wrong length is refused."""
        with pytest.raises(ValueError, match="frontier hash 0 has 31 bytes, expected 32"):
            root_from_frontier([b"\x00" * 31])

    def test_root_from_frontier_matches_reference(self) -> None:
        """The fold of the frontier hashes is the MTH of the same prefix."""
        entries = _entries(13, b"frontier")
        reference = ReferenceTree(entries)
        hashes = [
            reference.mth(index << level, (index + 1) << level) for level, index in frontier_ids(13)
        ]
        assert root_from_frontier(hashes) == reference.mth(0, 13)


class TestCompactRange:
    """The growing right edge of the tree."""

    def test_empty_range(self) -> None:
        """A new range is the empty tree."""
        tree = CompactRange()
        assert (tree.size, tree.hashes, tree.root()) == (0, (), EMPTY_ROOT)

    def test_append_reports_completed_nodes_bottom_up(self) -> None:
        """Appending the fourth leaf completes the leaf, (1, 1) and (2, 0), in that order."""
        leaves = [leaf_hash(bytes([i])) for i in range(4)]
        tree = CompactRange()
        for value in leaves[:3]:
            tree.append(value)
        completed = tree.append(leaves[3])
        pair01 = node_hash(leaves[0], leaves[1])
        pair23 = node_hash(leaves[2], leaves[3])
        assert completed == [
            (0, 3, leaves[3]),
            (1, 1, pair23),
            (2, 0, node_hash(pair01, pair23)),
        ]
        assert tree.hashes == (node_hash(pair01, pair23),)

    def test_resume_from_frontier(self) -> None:
        """A range rebuilt from a size and its frontier hashes continues identically."""
        leaves = [leaf_hash(bytes([i])) for i in range(11)]
        whole = CompactRange()
        for value in leaves:
            whole.append(value)
        head = CompactRange()
        for value in leaves[:6]:
            head.append(value)
        resumed = CompactRange(head.size, head.hashes)
        for value in leaves[6:]:
            resumed.append(value)
        assert (resumed.size, resumed.root()) == (11, whole.root())

    def test_rejects_wrong_frontier_count(self) -> None:
        """A frontier with the wrong number of hashes for its size is refused."""
        with pytest.raises(ValueError, match="tree size 3 has 2 frontier hashes, got 1"):
            CompactRange(3, [EMPTY_ROOT])

    def test_rejects_wrong_frontier_hash_length(self) -> None:
        """A frontier hash that is not 32 bytes is refused."""
        with pytest.raises(ValueError, match="frontier hash 0 has 3 bytes"):
            CompactRange(1, [b"abc"])

    def test_rejects_short_leaf_hash(self) -> None:
        """Appending a value that is not a 32-byte hash is refused and changes nothing."""
        tree = CompactRange()
        with pytest.raises(ValueError, match="leaf hash has 5 bytes, expected 32"):
            tree.append(b"short")
        assert tree.size == 0

    @settings(max_examples=60, deadline=None)
    @given(count=st.integers(1, 300), salt=st.binary(max_size=8))
    def test_root_matches_reference_at_every_size(self, count: int, salt: bytes) -> None:
        """After every append the root equals the reference MTH of the prefix."""
        entries = _entries(count, salt)
        reference = ReferenceTree(entries)
        nodes, roots = _complete_nodes([leaf_hash(entry) for entry in entries])
        assert roots == [reference.mth(0, size) for size in range(count + 1)]
        assert len(nodes) == 2 * count - count.bit_count()
        for (level, index), digest in nodes.items():
            assert digest == reference.mth(index << level, (index + 1) << level)


class TestPlans:
    """Which complete nodes each proof needs, and how many."""

    def test_inclusion_plan_names_complete_nodes(self) -> None:
        """Leaf 1 of 5 needs its sibling leaf, the pair (1, 1) and leaf 4, bottom-up."""
        assert inclusion_plan(1, 5).ids == ((0, 0), (1, 1), (0, 4))

    def test_inclusion_plan_rehashes_incomplete_right_edge(self) -> None:
        """Leaf 0 of 7 gets MTH of leaves 4..6 folded from (1, 2) and (0, 6)."""
        plan = inclusion_plan(0, 7)
        assert plan.ids == ((0, 1), (1, 1), (1, 2), (0, 6))
        hashes = {node: bytes([n]) * HASH_SIZE for n, node in enumerate(plan.ids)}
        assert plan.assemble(hashes) == [
            hashes[0, 1],
            hashes[1, 1],
            node_hash(hashes[1, 2], hashes[0, 6]),
        ]

    def test_consistency_plan_includes_old_subtree(self) -> None:
        """From size 6 to 8 the proof starts with the subtree (1, 2) ending at leaf 6."""
        assert consistency_plan(6, 8).ids == ((1, 2), (1, 3), (2, 0))

    def test_consistency_plan_skips_power_of_two_root(self) -> None:
        """From size 4 the old root is known to the verifier, so it is not fetched."""
        assert consistency_plan(4, 7).ids == ((1, 2), (0, 6))

    @pytest.mark.parametrize(("first", "second"), [(0, 0), (0, 9), (5, 5)])
    def test_trivial_consistency_plans_are_empty(self, first: int, second: int) -> None:
        """From the empty tree or to the same size there is nothing to fetch."""
        plan = consistency_plan(first, second)
        assert (plan.ids, plan.assemble({})) == ((), [])

    def test_root_plan(self) -> None:
        """The root plan fetches the frontier and folds it into the root."""
        entries = _entries(11, b"root")
        nodes, roots = _complete_nodes([leaf_hash(entry) for entry in entries])
        plan = root_plan(11)
        assert plan.ids == tuple(frontier_ids(11))
        assert plan.assemble(nodes) == [roots[11]]
        assert root_plan(0).assemble({}) == [EMPTY_ROOT]

    def test_plan_is_frozen(self) -> None:
        """A plan cannot be altered after it is made."""
        plan = inclusion_plan(0, 2)
        assert isinstance(plan, ProofPlan)
        with pytest.raises(AttributeError):
            plan.ids = ()  # type: ignore[misc]

    def test_assemble_reports_missing_node(self) -> None:
        """A node the store did not return is named in the error."""
        with pytest.raises(ProofError, match=r"tree node \(level 1, index 1\) is missing"):
            inclusion_plan(0, 4).assemble({(0, 1): EMPTY_ROOT})

    def test_assemble_rejects_wrong_length_node(self) -> None:
        """A stored node hash that is not 32 bytes is refused."""
        with pytest.raises(ProofError, match=r"\(level 0, index 1\) has 4 bytes, expected 32"):
            inclusion_plan(0, 2).assemble({(0, 1): b"abcd"})

    @pytest.mark.parametrize(("index", "size"), [(-1, 3), (3, 3), (0, 0)])
    def test_inclusion_plan_rejects_index_outside_tree(self, index: int, size: int) -> None:
        """An index outside [0, size) has no inclusion proof."""
        with pytest.raises(ValueError, match=f"index {index} is not in a tree of size {size}"):
            inclusion_plan(index, size)

    @pytest.mark.parametrize(("first", "second"), [(-1, 3), (4, 3)])
    def test_consistency_plan_rejects_bad_sizes(self, first: int, second: int) -> None:
        """Sizes that are negative or decreasing have no consistency proof."""
        with pytest.raises(ValueError, match="no consistency proof"):
            consistency_plan(first, second)

    @pytest.mark.parametrize("index", [0, 1, 2**19 - 1, 2**19, 500_000, 999_998, 999_999])
    def test_inclusion_plan_is_logarithmic(self, index: int) -> None:
        """An inclusion proof in a million-leaf tree needs at most 2 log n + 2 nodes."""
        plan = inclusion_plan(index, 10**6)
        assert 0 < len(plan.ids) <= 2 * 20 + 2
        assert len(set(plan.ids)) == len(plan.ids)

    @pytest.mark.parametrize("first", [1, 2, 3, 2**19 - 1, 2**19 + 1, 777_777, 999_999])
    def test_consistency_plan_is_logarithmic(self, first: int) -> None:
        """A consistency proof up to a million leaves needs at most 2 log n + 2 nodes."""
        plan = consistency_plan(first, 10**6)
        assert 0 < len(plan.ids) <= 2 * 20 + 2
        assert len(set(plan.ids)) == len(plan.ids)

    def test_plans_only_name_complete_nodes(self) -> None:
        """Every planned node lies entirely inside the tree, for every index and pair."""
        for size in range(1, 70):
            for other in range(size + 1):
                plans = [consistency_plan(other, size)]
                if other < size:
                    plans.append(inclusion_plan(other, size))
                for plan in plans:
                    assert all((index + 1) << level <= size for level, index in plan.ids)


class TestProofsAgainstReference:
    """Assembled proofs equal the RFC 9162 definitions and verify; tampering is caught."""

    @settings(max_examples=40, deadline=None)
    @given(data=st.data(), count=st.integers(1, 300), salt=st.binary(max_size=8))
    def test_inclusion_proofs(self, data: st.DataObject, count: int, salt: bytes) -> None:
        """For every leaf of a tree size, the assembled proof is PATH(m, D[n]) and verifies."""
        entries = _entries(count, salt)
        reference = ReferenceTree(entries)
        nodes, roots = _complete_nodes([leaf_hash(entry) for entry in entries])
        size = data.draw(st.integers(1, count), label="size")
        for index in range(size):
            proof = inclusion_plan(index, size).assemble(nodes)
            assert proof == reference.inclusion(index, size)
            verify_inclusion(index, size, reference.leaf(index), proof, roots[size])

    @settings(max_examples=40, deadline=None)
    @given(data=st.data(), count=st.integers(1, 300), salt=st.binary(max_size=8))
    def test_consistency_proofs(self, data: st.DataObject, count: int, salt: bytes) -> None:
        """For every earlier size, the assembled proof is PROOF(m, D[n]) and verifies."""
        entries = _entries(count, salt)
        reference = ReferenceTree(entries)
        nodes, roots = _complete_nodes([leaf_hash(entry) for entry in entries])
        second = data.draw(st.integers(0, count), label="second")
        for first in range(second + 1):
            proof = consistency_plan(first, second).assemble(nodes)
            expected = [] if first == second else reference.consistency(first, second)
            assert proof == expected
            verify_consistency(first, second, roots[first], roots[second], proof)

    @settings(max_examples=200, deadline=None)
    @given(data=st.data(), count=st.integers(2, 300), salt=st.binary(max_size=8))
    def test_tampered_inclusion_proofs_are_rejected(
        self, data: st.DataObject, count: int, salt: bytes
    ) -> None:
        """A flipped bit, a dropped or added hash, another leaf or another index is refused."""
        entries = _entries(count, salt)
        reference = ReferenceTree(entries)
        size = data.draw(st.integers(2, count), label="size")
        index = data.draw(st.integers(0, size - 1), label="index")
        leaf, root = reference.leaf(index), reference.mth(0, size)
        proof = reference.inclusion(index, size)
        position = data.draw(st.integers(0, len(proof) - 1), label="position")
        bit = data.draw(st.integers(0, 255), label="bit")

        flipped = [*proof[:position], _flip(proof[position], bit), *proof[position + 1 :]]
        with pytest.raises(ProofError, match=r"computed root .* does not match"):
            verify_inclusion(index, size, leaf, flipped, root)
        with pytest.raises(ProofError, match=f"expected {len(proof)}"):
            verify_inclusion(index, size, leaf, proof[:position] + proof[position + 1 :], root)
        with pytest.raises(ProofError, match=f"expected {len(proof)}"):
            verify_inclusion(index, size, leaf, [*proof, proof[position]], root)
        with pytest.raises(ProofError, match="does not match"):
            verify_inclusion(index, size, _flip(leaf, bit), proof, root)
        other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index), label="other")
        with pytest.raises(ProofError, match=r"proof has .* hashes|does not match"):
            verify_inclusion(other, size, leaf, proof, root)
        with pytest.raises(ProofError, match=f"index {size} is beyond tree size {size}"):
            verify_inclusion(size, size, leaf, proof, root)

    @settings(max_examples=200, deadline=None)
    @given(data=st.data(), count=st.integers(2, 300), salt=st.binary(max_size=8))
    def test_inclusion_proof_binds_index_and_size(
        self, data: st.DataObject, count: int, salt: bytes
    ) -> None:
        """A proof verifies for another (index, size) and its true root only if it is that proof."""
        entries = _entries(count, salt)
        reference = ReferenceTree(entries)
        size = data.draw(st.integers(1, count), label="size")
        index = data.draw(st.integers(0, size - 1), label="index")
        other_size = data.draw(st.integers(1, count), label="other_size")
        other_index = data.draw(st.integers(0, other_size - 1), label="other_index")
        proof = reference.inclusion(index, size)
        other_leaf, other_root = reference.leaf(other_index), reference.mth(0, other_size)
        if proof == reference.inclusion(other_index, other_size):
            verify_inclusion(other_index, other_size, other_leaf, proof, other_root)
        else:
            with pytest.raises(ProofError, match=r"proof has .* hashes|does not match"):
                verify_inclusion(other_index, other_size, other_leaf, proof, other_root)

    @settings(max_examples=200, deadline=None)
    @given(data=st.data(), count=st.integers(3, 300), salt=st.binary(max_size=8))
    def test_tampered_consistency_proofs_are_rejected(
        self, data: st.DataObject, count: int, salt: bytes
    ) -> None:
        """A flipped bit, a dropped or added hash, or other sizes are refused."""
        entries = _entries(count, salt)
        reference = ReferenceTree(entries)
        second = data.draw(st.integers(2, count), label="second")
        first = data.draw(st.integers(1, second - 1), label="first")
        first_root, second_root = reference.mth(0, first), reference.mth(0, second)
        proof = reference.consistency(first, second)
        position = data.draw(st.integers(0, len(proof) - 1), label="position")
        bit = data.draw(st.integers(0, 255), label="bit")

        flipped = [*proof[:position], _flip(proof[position], bit), *proof[position + 1 :]]
        with pytest.raises(ProofError, match=r"computed (first|second) root .* does not match"):
            verify_consistency(first, second, first_root, second_root, flipped)
        with pytest.raises(ProofError, match=f"expected {len(proof)}"):
            verify_consistency(
                first, second, first_root, second_root, proof[:position] + proof[position + 1 :]
            )
        with pytest.raises(ProofError, match=f"expected {len(proof)}"):
            verify_consistency(first, second, first_root, second_root, [*proof, proof[0]])
        with pytest.raises(ProofError, match="does not match"):
            verify_consistency(first, second, _flip(first_root, bit), second_root, proof)
        with pytest.raises(ProofError, match="does not match"):
            verify_consistency(first, second, first_root, _flip(second_root, bit), proof)
        with pytest.raises(ProofError, match="larger than second tree size"):
            verify_consistency(second, first, second_root, first_root, proof)

        other_second = data.draw(st.integers(2, count), label="other_second")
        other_first = data.draw(st.integers(1, other_second - 1), label="other_first")
        other_roots = (reference.mth(0, other_first), reference.mth(0, other_second))
        if proof == reference.consistency(other_first, other_second):
            verify_consistency(other_first, other_second, *other_roots, proof)
        else:
            with pytest.raises(ProofError, match=r"proof has .* hashes|does not match"):
                verify_consistency(other_first, other_second, *other_roots, proof)


class TestVerifyInclusion:
    """Fail-closed checks of inclusion proofs on malformed input."""

    def _tree(self) -> tuple[ReferenceTree, list[bytes]]:
        """Return the RFC 6962 example tree and the proof of leaf 2 of 7."""
        reference = ReferenceTree(RFC6962_ENTRIES)
        return reference, reference.inclusion(2, 7)

    def test_accepts_valid_proof(self) -> None:
        """A correct proof yields the root."""
        reference, proof = self._tree()
        assert root_from_inclusion_proof(2, 7, reference.leaf(2), proof) == reference.mth(0, 7)

    def test_rejects_missing_hash(self) -> None:
        """A proof one hash short names both counts."""
        reference, proof = self._tree()
        with pytest.raises(ProofError, match="proof has 2 hashes, expected 3"):
            verify_inclusion(2, 7, reference.leaf(2), proof[:2], reference.mth(0, 7))

    def test_rejects_short_proof_hash(self) -> None:
        """A proof hash of the wrong length is named by position."""
        reference, proof = self._tree()
        proof[1] = proof[1][:20]
        with pytest.raises(ProofError, match="proof hash 1 has 20 bytes, expected 32"):
            verify_inclusion(2, 7, reference.leaf(2), proof, reference.mth(0, 7))

    def test_rejects_short_leaf_hash(self) -> None:
        """A leaf hash of the wrong length is refused."""
        reference, proof = self._tree()
        with pytest.raises(ProofError, match="leaf hash has 0 bytes, expected 32"):
            verify_inclusion(2, 7, b"", proof, reference.mth(0, 7))

    def test_rejects_short_root(self) -> None:
        """A root of the wrong length is refused."""
        reference, proof = self._tree()
        with pytest.raises(ProofError, match="root has 31 bytes, expected 32"):
            verify_inclusion(2, 7, reference.leaf(2), proof, reference.mth(0, 7)[1:])

    @pytest.mark.parametrize(
        ("index", "size", "message"),
        [
            (7, 7, "index 7 is beyond tree size 7"),
            (0, 0, "index 0 is beyond tree size 0"),
            (2**64 - 1, 7, "index 18446744073709551615 is beyond tree size 7"),
            (-1, 7, "must not be negative"),
        ],
    )
    def test_rejects_index_outside_tree(self, index: int, size: int, message: str) -> None:
        """An index outside the tree is refused before any hashing."""
        reference, proof = self._tree()
        with pytest.raises(ProofError, match=message):
            verify_inclusion(index, size, reference.leaf(2), proof, reference.mth(0, 7))

    def test_rejects_root_differing_in_last_bit(self) -> None:
        """A claimed root that differs from the true one only in its last bit is refused."""
        reference, proof = self._tree()
        claimed = _flip(reference.mth(0, 7), 255)
        with pytest.raises(ProofError, match="does not match"):
            verify_inclusion(2, 7, reference.leaf(2), proof, claimed)

    def test_mismatch_names_both_roots(self) -> None:
        """A root mismatch reports the computed and the claimed root in hex."""
        reference, proof = self._tree()
        claimed = reference.mth(0, 6)
        computed = reference.mth(0, 7)
        with pytest.raises(
            ProofError, match=f"computed root {computed.hex()} does not match {claimed.hex()}"
        ):
            verify_inclusion(2, 7, reference.leaf(2), proof, claimed)


class TestVerifyConsistency:
    """Fail-closed checks of consistency proofs, including the size 0 and equal-size cases."""

    def test_equal_sizes_need_equal_roots(self) -> None:
        """Equal sizes with an empty proof verify only when the roots are equal."""
        root_a, root_b = leaf_hash(b"a"), leaf_hash(b"b")
        verify_consistency(3, 3, root_a, root_a, [])
        with pytest.raises(ProofError, match=r"computed first root .* does not match"):
            verify_consistency(3, 3, root_a, root_b, [])

    def test_equal_sizes_refuse_a_proof(self) -> None:
        """Equal sizes with a non-empty proof are refused."""
        root = leaf_hash(b"a")
        with pytest.raises(ProofError, match="proof has 1 hashes, expected 0 from tree size"):
            verify_consistency(3, 3, root, root, [root])

    def test_empty_tree_root_is_fixed(self) -> None:
        """Size 0 verifies only with the empty root."""
        verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
        other = leaf_hash(b"a")
        with pytest.raises(ProofError, match="root of the empty tree"):
            verify_consistency(0, 0, other, other, [])

    def test_every_tree_extends_the_empty_tree(self) -> None:
        """From size 0 an empty proof verifies when the first root is the empty root."""
        verify_consistency(0, 5, EMPTY_ROOT, leaf_hash(b"a"), [])
        with pytest.raises(ProofError, match="root of the empty tree"):
            verify_consistency(0, 5, leaf_hash(b"b"), leaf_hash(b"a"), [])
        with pytest.raises(ProofError, match="second root has 3 bytes"):
            verify_consistency(0, 5, EMPTY_ROOT, b"abc", [])
        with pytest.raises(ProofError, match="proof has 1 hashes, expected 0 from tree size"):
            verify_consistency(0, 5, EMPTY_ROOT, leaf_hash(b"a"), [EMPTY_ROOT])

    def test_rejects_decreasing_and_negative_sizes(self) -> None:
        """A first size above the second, or a negative size, is refused."""
        root = leaf_hash(b"a")
        with pytest.raises(ProofError, match="first tree size 2 is larger than second tree size 1"):
            verify_consistency(2, 1, root, root, [])
        with pytest.raises(ProofError, match="must not be negative"):
            verify_consistency(-1, 1, root, root, [])

    def test_rejects_empty_proof_between_different_sizes(self) -> None:
        """Different non-zero sizes always need a proof (RFC 9162 §2.1.4.2 step 1)."""
        reference = ReferenceTree(RFC6962_ENTRIES)
        with pytest.raises(ProofError, match="proof has 0 hashes, expected 1"):
            verify_consistency(4, 8, reference.mth(0, 4), reference.mth(0, 8), [])

    def test_rejects_roots_differing_in_last_bit(self) -> None:
        """Either root differing from the true one only in its last bit is refused."""
        reference = ReferenceTree(RFC6962_ENTRIES)
        first_root, second_root = reference.mth(0, 3), reference.mth(0, 7)
        proof = reference.consistency(3, 7)
        verify_consistency(3, 7, first_root, second_root, proof)
        with pytest.raises(ProofError, match="computed first root"):
            verify_consistency(3, 7, _flip(first_root, 255), second_root, proof)
        with pytest.raises(ProofError, match="computed second root"):
            verify_consistency(3, 7, first_root, _flip(second_root, 255), proof)
        with pytest.raises(ProofError, match="computed first root"):
            verify_consistency(3, 3, first_root, _flip(first_root, 255), [])

    def test_rejects_wrong_length_roots(self) -> None:
        """Roots that are not 32 bytes are refused by name."""
        reference = ReferenceTree(RFC6962_ENTRIES)
        proof = reference.consistency(3, 7)
        with pytest.raises(ProofError, match="first root has 2 bytes"):
            verify_consistency(3, 7, b"ab", reference.mth(0, 7), proof)
        with pytest.raises(ProofError, match="second root has 2 bytes"):
            verify_consistency(3, 7, reference.mth(0, 3), b"ab", proof)


class TestVectors:
    """The transparency-dev/merkle proof vectors, positive and negative."""

    def test_vectors_are_present(self) -> None:
        """The corpus holds the full vector set, so a wrong path cannot pass silently."""
        assert len(INCLUSION_VECTORS) + len(CONSISTENCY_VECTORS) > 150
        assert len(INCLUSION_VECTORS) > 50
        assert len(CONSISTENCY_VECTORS) > 50

    @pytest.mark.parametrize("path", INCLUSION_VECTORS, ids=_vector_id)
    def test_inclusion_vector(self, path: Path) -> None:
        """The vector is accepted exactly when it is not marked wantErr."""
        vector = _load(path)
        arguments = (
            vector["leafIdx"],
            vector["treeSize"],
            _b64(vector["leafHash"]),
            _proof(vector),
            _b64(vector["root"]),
        )
        if vector["wantErr"]:
            with pytest.raises(ProofError):
                verify_inclusion(*arguments)
        else:
            verify_inclusion(*arguments)
            assert root_from_inclusion_proof(*arguments[:4]) == arguments[4]

    @pytest.mark.parametrize("path", CONSISTENCY_VECTORS, ids=_vector_id)
    def test_consistency_vector(self, path: Path) -> None:
        """The vector is accepted exactly when it is not marked wantErr."""
        vector = _load(path)
        arguments = (
            vector["size1"],
            vector["size2"],
            _b64(vector["root1"]),
            _b64(vector["root2"]),
            _proof(vector),
        )
        if vector["wantErr"]:
            with pytest.raises(ProofError):
                verify_consistency(*arguments)
        else:
            verify_consistency(*arguments)

    def test_plans_reproduce_happy_path_proofs(self) -> None:
        """Plans over the RFC 6962 tree assemble exactly the vectors' happy-path proofs."""
        nodes, _ = _complete_nodes([leaf_hash(entry) for entry in RFC6962_ENTRIES])
        checked = 0
        for path in INCLUSION_VECTORS + CONSISTENCY_VECTORS:
            vector = _load(path)
            if vector["wantErr"] or path.parent.name in ("additional", "single-entry"):
                continue
            if "leafIdx" in vector:
                plan = inclusion_plan(vector["leafIdx"], vector["treeSize"])
            else:
                plan = consistency_plan(vector["size1"], vector["size2"])
            assert plan.assemble(nodes) == _proof(vector), path
            checked += 1
        assert checked == 10
