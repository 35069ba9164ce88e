"""A naive RFC 9162 §2.1 Merkle tree, written straight from the RFC text, for tests.

Each function is the recursive definition of the RFC over the list of entries D[0:n].
Only ``mth`` is memoised (by range), so property tests over a few hundred leaves stay
fast; nothing else is shared with ``flightlog.ledger.merkle``.
"""

from __future__ import annotations

import hashlib
from functools import cache


class ReferenceTree:
    """The Merkle Tree Hash, audit paths and consistency proofs of a fixed list of entries."""

    def __init__(self, entries: list[bytes]) -> None:
        """Hold the entries D[0:n]."""
        self.entries = entries
        self.mth = cache(self._mth)

    @staticmethod
    def _largest_power_of_two_below(n: int) -> int:
        """Return the largest power of two smaller than n (RFC 9162 §2.1.1: k < n <= 2k)."""
        k = 1
        while k * 2 < n:
            k *= 2
        return k

    def _mth(self, lo: int, hi: int) -> bytes:
        """Return MTH(D[lo:hi]) (RFC 9162 §2.1.1)."""
        n = hi - lo
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return hashlib.sha256(b"\x00" + self.entries[lo]).digest()
        k = self._largest_power_of_two_below(n)
        return hashlib.sha256(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi)).digest()

    def leaf(self, m: int) -> bytes:
        """Return the leaf hash of entry m."""
        return self.mth(m, m + 1)

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        """Return PATH(m, D[lo:hi]) with m relative to lo (RFC 9162 §2.1.3.1)."""
        n = hi - lo
        if n == 1:
            return []
        k = self._largest_power_of_two_below(n)
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def inclusion(self, m: int, n: int) -> list[bytes]:
        """Return the inclusion proof of leaf m in the tree of the first n entries."""
        return self.path(m, 0, n)

    def subproof(self, m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        """Return SUBPROOF(m, D[lo:hi], b) (RFC 9162 §2.1.4.1)."""
        n = hi - lo
        if m == n:
            return [] if complete else [self.mth(lo, hi)]
        k = self._largest_power_of_two_below(n)
        if m <= k:
            return [*self.subproof(m, lo, lo + k, complete), self.mth(lo + k, hi)]
        return [*self.subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]

    def consistency(self, m: int, n: int) -> list[bytes]:
        """Return PROOF(m, D[n]) = SUBPROOF(m, D[n], true) for 0 < m <= n, else []."""
        if m == 0:
            return []
        return self.subproof(m, 0, n, True)
