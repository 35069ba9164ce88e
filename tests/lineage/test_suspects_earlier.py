"""suspects reads the earlier deployments of many deployments at once, with the same answer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import cast

import pytest

from flightlog.lineage import suspects
from flightlog.lineage.port import Fact, FactsRead, LineageReader
from flightlog.service import Flightlog
from flightlog.store.lineage import LineageStore


class TestEarlierAll:
    def test_bulk_reads_equal_one_read_per_deployment(self, history: Flightlog) -> None:
        """For every deployment of the history, the bulk answer is the per-deployment one."""
        with LineageStore(history.store.engine) as store:
            deployed = [
                f for f in store.facts("deployments", {}, limit=10_000) if f["status"] != "started"
            ]
            assert len(deployed) > 5
            bulk = suspects._earlier_all(store, deployed)
            assert bulk == {f["idx"]: suspects._earlier(store, f) for f in deployed}
            assert any(len(found) > 1 for found in bulk.values())

    def test_a_short_read_falls_back_to_asking_one_by_one(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A deployment with more successes after it than the read took is asked on its own."""
        place = {"environment": "production", "service": "payments", "status": "success"}
        rows = _Deployments([{"idx": i, **place} for i in range(10, 100, 10)])
        reader = cast(LineageReader, rows)
        # The second and the newest: the read takes 2 + 2 x 2 = 6 rows before the newest
        # (20-80), so it holds the newest's two before it, but only the second's one.
        deployed = [rows.rows[1], rows.rows[-1]]
        monkeypatch.setattr(suspects, "EARLIER", 2)
        assert suspects._earlier_all(reader, deployed) == {
            20: [rows.rows[0]],
            90: [rows.rows[7], rows.rows[6]],
        }
        assert rows.asked == [6, 2]  # the bulk read, then the second on its own


class TestLoadedCandidates:
    def test_candidates_read_in_bulk_or_one_by_one_answer_alike(
        self, history: Flightlog, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """However many rollback candidates are read in bulk, suspects answers the same."""
        at = datetime(2026, 11, 9, 0, 12, tzinfo=UTC)
        every = history.suspects("production", at=at, window_seconds=8 * 86400)
        assert [s for s in every["suspects"] if s["rollback_to"]]
        for loaded in (0, 1, suspects.EARLIER):
            monkeypatch.setattr(suspects, "LOADED_CANDIDATES", loaded)
            assert history.suspects("production", at=at, window_seconds=8 * 86400) == every


class _Deployments:
    """Deployments in memory, read as the store reads them (``upto``, newest first, limit)."""

    def __init__(self, rows: list[Fact]) -> None:
        self.rows = rows
        self.asked: list[int] = []

    def facts(
        self,
        table: str,
        where: Mapping[str, str | None],
        *,
        upto: int | None = None,
        newest_first: bool = False,
        limit: int = 200,
    ) -> list[Fact]:
        self.asked.append(limit)
        found = [
            r
            for r in self.rows
            if all(r[k] == v for k, v in where.items()) and (upto is None or r["idx"] <= upto)
        ]
        return (found[::-1] if newest_first else found)[:limit]

    def facts_each(self, table: str, reads: list[FactsRead]) -> list[list[Fact]]:
        return [
            self.facts(table, r.where, upto=r.upto, newest_first=r.newest_first, limit=r.limit)
            for r in reads
        ]
