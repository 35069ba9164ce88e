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

    def test_widening_finds_what_one_look_finds(
        self, history: Flightlog, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Looking among the newest few entries first, then more, gives the same answer."""
        words = ("PAY-120", "CVE-2026-1111", "settlement batch", "carol")
        once = [history.search(w, limit=500)["results"] for w in words]
        monkeypatch.setattr(lineage, "_FIRST_SPAN", 4)
        assert [history.search(w, limit=500)["results"] for w in words] == once
        monkeypatch.setattr(lineage, "RANKED", 3)
        found = {r["index"] for r in history.search("CVE-2026-1111", limit=500)["results"]}
        every = {r["index"] for r in once[1]}
        assert found == set(sorted(every)[-3:])
