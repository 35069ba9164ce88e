"""Search ranks a bounded number of matches: the newest ones."""

from __future__ import annotations

import pytest

from flightlog.service import Flightlog
from flightlog.store import lineage


class TestSearchBound:
    def test_only_the_newest_matches_are_ranked(
        self, history: Flightlog, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With room for two, a word in many entries gives its two newest, best first."""
        every = {r["index"] for r in history.search("PAY-120", limit=500)["results"]}
        assert len(every) > 2
        monkeypatch.setattr(lineage, "RANKED", 2)
        found = [r["index"] for r in history.search("PAY-120", limit=500)["results"]]
        assert sorted(found) == sorted(every)[-2:]

    def test_a_rare_word_is_found_whatever_the_bound(
        self, history: Flightlog, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A CVE in one scan is found with a bound of one."""
        monkeypatch.setattr(lineage, "RANKED", 1)
        found = history.search("CVE-2026-4242")["results"]
        assert [r["type"] for r in found] == [
            "dev.cdeventsx.flightlog-vulnerabilityscan.finished.0.1.0"
        ]


class TestPostgresReading:
    # (entries read in order first, most read on in order, cost of a match from the index
    # in entries): in order only; in order then from the index; from the index after a
    # few; on in order; one entry at a time; from the index alone; the index cheaper.
    WAYS = (
        (10_000, 10_000, 15),
        (4, 8, 1000),
        (4, 0, 1000),
        (2, 1000, 1000),
        (1, 1, 1000),
        (0, 0, 15),
        (4, 1000, 0),
    )
    WORDS = ("PAY-120", "CVE-2026-1111", "settlement batch", "carol", "payments")

    def test_every_way_of_reading_finds_the_same_matches(
        self, postgres_history: Flightlog, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Reading the newest entries in order, on in order, then from the index: one answer."""
        answers = []
        for first, more, cost in self.WAYS:
            monkeypatch.setattr(lineage, "_ORDERED_FIRST", first)
            monkeypatch.setattr(lineage, "_ORDERED_MORE", more)
            monkeypatch.setattr(lineage, "_MATCH_COST", cost)
            answers.append([postgres_history.search(w, limit=500)["results"] for w in self.WORDS])
        assert all(answers[0])
        assert answers == [answers[0]] * len(self.WAYS)

    def test_every_way_of_reading_keeps_the_newest(
        self, postgres_history: Flightlog, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With room for three, every way of reading ranks the three newest matches."""
        every = [
            sorted(r["index"] for r in postgres_history.search(w, limit=500)["results"])
            for w in self.WORDS
        ]
        assert all(len(e) > 3 for e in every[:1] + every[2:])
        monkeypatch.setattr(lineage, "RANKED", 3)
        for first, more, cost in self.WAYS:
            monkeypatch.setattr(lineage, "_ORDERED_FIRST", first)
            monkeypatch.setattr(lineage, "_ORDERED_MORE", more)
            monkeypatch.setattr(lineage, "_MATCH_COST", cost)
            found = [
                sorted(r["index"] for r in postgres_history.search(w, limit=500)["results"])
                for w in self.WORDS
            ]
            assert found == [e[-3:] for e in every], (first, more, cost)
