"""Reads answered from bulk loads equal the store's own reads, row for row."""

from __future__ import annotations

from typing import Any

from flightlog.lineage.prefetch import Prefetched
from flightlog.service import Flightlog
from flightlog.store.lineage import LineageStore

# (table, where, keyword arguments): the shapes of read the questions ask.
READS: list[tuple[str, dict[str, str | None], dict[str, Any]]] = [
    ("deployments", {"service": "payments"}, {}),
    ("deployments", {"service": "payments"}, {"newest_first": True, "limit": 3}),
    ("deployments", {"service": "payments", "status": "started"}, {"upto": 40}),
    ("deployments", {"service": "payments", "status": "success"}, {"after": 30, "upto": 70}),
    ("deployments", {"service": "payments", "reason": None}, {"newest_first": True}),
    ("deployments", {"service": "web", "environment": "production"}, {"limit": 1}),
    ("deployments", {"service": "nothing"}, {}),
    ("changes", {"kind": "commit", "repo": "acme/payments"}, {"newest_first": True}),
    ("changes", {"kind": "change", "repo": "acme/payments"}, {"after": 10}),
    ("deployments", {"service": "payments"}, {"since_utc": "2026-11-05T00:00:00Z"}),
]


def _reader(fl: Flightlog) -> LineageStore:
    return LineageStore(fl.store.engine)


class TestPrefetched:
    def test_loaded_reads_equal_the_stores(self, history: Flightlog) -> None:
        """Every read shape gives the same rows from loaded rows as from the store."""
        with _reader(history) as store:
            cached = Prefetched(store)
            cached.load("deployments", "service", ["payments", "web", "nothing"])
            cached.load("changes", "repo", ["acme/payments"])
            for table, where, kwargs in READS:
                assert cached.facts(table, where, **kwargs) == store.facts(table, where, **kwargs)

    def test_reads_of_unloaded_values_go_to_the_store_once(self, history: Flightlog) -> None:
        """A read of values not loaded is answered by the store, and again from memory."""
        with _reader(history) as store:
            cached = Prefetched(store)
            first = cached.facts("deployments", {"reason": None}, newest_first=True)
            first[0]["service"] = "changed by the caller"
            again = cached.facts("deployments", {"reason": None}, newest_first=True)
            assert again == store.facts("deployments", {"reason": None}, newest_first=True)
            indices = [d["idx"] for d in store.facts("deployments", {"service": "web"})]
            assert cached.refs_of(indices[:1]) == store.refs_of(indices[:1])
            assert cached.refs_of(indices) == store.refs_of(indices)
            assert cached.facts_at("deployments", indices) == store.facts_at("deployments", indices)
            assert cached.names("deployments", "service") == ["payments", "web"]

    def test_a_load_past_its_limit_reads_nothing(self, history: Flightlog) -> None:
        """More rows than the limit: facts_in gives None and the reads go to the store."""
        with _reader(history) as store:
            assert store.facts_in("deployments", "service", ["web"], limit=1) is None
            rows = store.facts_in("deployments", "service", ["web", "payments"], limit=100)
            assert rows is not None
            assert [r["idx"] for r in rows] == sorted(r["idx"] for r in rows)
            assert {r["service"] for r in rows} == {"web", "payments"}
            cached = Prefetched(store)
            cached.load("deployments", "service", ["payments"])
            assert cached.facts("deployments", {"service": "payments"}) == store.facts(
                "deployments", {"service": "payments"}
            )

    def test_booleans_read_as_booleans(self, history: Flightlog) -> None:
        """An approval's granted flag is a bool on every backend."""
        with _reader(history) as store:
            approvals = store.facts("approvals", {})
            assert approvals
            assert all(a["granted"] is True for a in approvals)

    def test_refs_of_some_kinds(self, history: Flightlog) -> None:
        """Refs read for some kinds are those kinds' refs among all the entries' refs."""
        with _reader(history) as store:
            indices = [c["idx"] for c in store.facts("changes", {})]
            everything = store.refs_of(indices)
            kinds = ("system", "ticket")
            wanted = {i: [r for r in refs if r[0] in kinds] for i, refs in everything.items()}
            assert any(wanted.values())
            assert store.refs_of(indices, kinds) == wanted
            cached = Prefetched(store)
            assert cached.refs_of(indices, kinds) == wanted
            assert cached.refs_of(indices) == everything

    def test_loaded_commits_and_entries_equal_the_stores(self, history: Flightlog) -> None:
        """Entries by commit and rows by entry, loaded in bulk, are the store's own."""
        with _reader(history) as store:
            shas = [c["key"] for c in store.facts("changes", {"kind": "commit"})]
            cached = Prefetched(store)
            cached.load_with("commit", [*shas, "no-such-sha"])
            stating = set()
            for sha in [*shas, "no-such-sha"]:
                assert cached.indices_with("commit", sha) == store.indices_with("commit", sha)
                stating.update(store.indices_with("commit", sha))
            assert stating
            assert store.indices_with_any("commit", shas, limit=1) is None
            cached.load_at("changes", stating)
            for some in (sorted(stating), sorted(stating)[:1], []):
                assert cached.facts_at("changes", some) == store.facts_at("changes", some)
