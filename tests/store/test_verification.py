"""Tests for sharing verification between processes: shares of work and joining their runs."""

from __future__ import annotations

from flightlog.ledger.audit import ChunkRun, Problem
from flightlog.store.verification import SHARE_CHUNKS, TAIL_CHUNKS, _joined, _shares


class TestShares:
    """Ranges of chunks are cut into shares that cover them once, in order."""

    def test_shares_cover_every_range_in_order(self) -> None:
        """Each range is cut into shares of at most SHARE_CHUNKS chunks, end to end."""
        ranges = [(0, 1), (1, 3), (3, 7), (7, 7 + 3 * SHARE_CHUNKS + TAIL_CHUNKS + 5)]
        shares = _shares(ranges)
        for k, (first, end) in enumerate(ranges):
            mine = [(a, b) for j, a, b in shares if j == k]
            assert mine[0][0] == first
            assert mine[-1][1] == end
            assert all(b - a <= SHARE_CHUNKS for a, b in mine)
            assert [a for a, _ in mine[1:]] == [b for _, b in mine[:-1]]

    def test_the_last_chunks_go_out_one_at_a_time(self) -> None:
        """The shares of the last TAIL_CHUNKS chunks hold one chunk each; earlier ones more."""
        end = 4 * SHARE_CHUNKS + TAIL_CHUNKS
        sizes = [b - a for _, a, b in _shares([(0, end)])]
        assert sizes == [SHARE_CHUNKS] * 4 + [1] * TAIL_CHUNKS


class TestJoined:
    """Runs of consecutive shares join into the run of their range."""

    def test_clean_runs_add_up(self) -> None:
        """Tops are concatenated, counts summed, and the first drift kept."""
        drift = Problem(5, "index_drift", "first")
        later = Problem(9, "index_drift", "later")
        runs = [
            ChunkRun([b"a"], 4, 5),
            ChunkRun([b"b", b"c"], 8, 10, derived=drift),
            ChunkRun([b"d"], 4, 5, derived=later),
        ]
        assert _joined(runs) == ChunkRun([b"a", b"b", b"c", b"d"], 16, 20, derived=drift)

    def test_a_problem_ends_the_run(self) -> None:
        """Nothing after the first Merkle problem counts; its drift is not reported."""
        missing = Problem(4, "entry_missing", "gone")
        runs = [
            ChunkRun([b"a"], 4, 5, derived=Problem(1, "index_drift", "x")),
            ChunkRun([], 0, 0, missing),
            ChunkRun([b"c"], 4, 5),
        ]
        assert _joined(runs) == ChunkRun([b"a"], 4, 5, missing)
