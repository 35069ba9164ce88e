"""Reads answered from bulk loads equal the store's own reads, row for row."""

from __future__ import annotations

from typing import Any, cast

import pytest

from flightlog.lineage.port import Fact, FactsRead, LineageReader
from flightlog.lineage.prefetch import Prefetched
from flightlog.service import Flightlog
from flightlog.store import lineage
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


class TestListsOfValues:
    def test_one_by_one_or_as_one_array_reads_the_same_rows(
        self, history: Flightlog, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Values bound one by one or as one array (PostgreSQL) read the same rows."""
        with _reader(history) as store:
            indices = [c["idx"] for c in store.facts("changes", {})]
            shas = [c["key"] for c in store.facts("changes", {"kind": "commit"})]

            def reads() -> tuple[Any, ...]:
                return (
                    store.refs_of(indices, ("system", "ticket")),
                    store.facts_at("changes", indices),
                    store.facts_in("changes", "key", shas, limit=1000),
                    store.indices_with_any("commit", shas, limit=1000),
                )

            # Statements are built once per shape: each setting starts from none built.
            monkeypatch.setattr(lineage, "_ARRAY_FROM", 10**9)
            monkeypatch.setattr(lineage, "_SELECTS", {})
            plain = reads()
            monkeypatch.setattr(lineage, "_ARRAY_FROM", 1)
            monkeypatch.setattr(lineage, "_SELECTS", {})
            assert reads() == plain
            assert all(plain)


class TestFactsEach:
    def test_each_read_equals_its_own_read(
        self, history: Flightlog, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Many reads of several shapes at once, split into statements: each read's rows."""
        monkeypatch.setattr(lineage, "EACH", 3)  # several statements per shape
        reads = [_read(where, kwargs) for _, where, kwargs in READS] * 2
        tables = [table for table, _, _ in READS] * 2
        with _reader(history) as store:
            alone = [
                store.facts(t, r.where, **_kwargs(r)) for t, r in zip(tables, reads, strict=True)
            ]
            assert sum(map(bool, alone)) > 10
            for table in ("deployments", "changes"):
                mine = [r for t, r in zip(tables, reads, strict=True) if t == table]
                want = [a for t, a in zip(tables, alone, strict=True) if t == table]
                assert store.facts_each(table, mine) == want
            assert store.facts_each("deployments", []) == []

    def test_prefetched_asks_the_store_once_for_what_it_lacks(self, history: Flightlog) -> None:
        """Loaded values answer from memory; the rest are asked together, then remembered."""
        reads = [_read(where, kwargs) for table, where, kwargs in READS if table == "deployments"]
        with _reader(history) as store:
            want = store.facts_each("deployments", reads)
            counted = _Counting(store)
            cached = Prefetched(cast(LineageReader, counted))
            cached.load("deployments", "service", ["web"])
            assert cached.facts_each("deployments", reads) == want
            asked = len(counted.asked)
            assert 0 < asked < len(reads)  # the web read came from the loaded rows
            for read, rows in zip(reads, want, strict=True):
                assert cached.facts("deployments", read.where, **_kwargs(read)) == rows
            assert cached.facts_each("deployments", reads) == want
            assert len(counted.asked) == asked


def _read(where: dict[str, str | None], kwargs: dict[str, Any]) -> FactsRead:
    return FactsRead(where, **kwargs)


def _kwargs(read: FactsRead) -> dict[str, Any]:
    return {k: v for k, v in vars(read).items() if k != "where"}


class _Counting:
    """A store that notes each read it is asked for through facts_each."""

    def __init__(self, store: LineageStore) -> None:
        self.store = store
        self.asked: list[FactsRead] = []

    def facts_each(self, table: str, reads: list[FactsRead]) -> list[list[Fact]]:
        self.asked.extend(reads)
        return self.store.facts_each(table, reads)

    def facts_in(self, table: str, column: str, values: list[str], *, limit: int) -> Any:
        return self.store.facts_in(table, column, values, limit=limit)
