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
