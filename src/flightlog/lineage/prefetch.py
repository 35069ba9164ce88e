"""A reader that answers the many small reads of one question from rows read in bulk.

A question over many deployments (suspects) asks the same few shapes of read for each:
the builds, tests, scans and approvals of an artifact, the push of a commit, the start
of a deployment. :class:`Prefetched` reads those rows for every value at once
(:meth:`load`), then answers each small read from them exactly as the store would:
same filters, same order, same limit. Any other read goes to the store, once: a
question that asks it again gets the same rows back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flightlog.lineage.port import Fact, FactsRead, LineageReader

__all__ = ["LOAD_LIMIT", "Prefetched"]

# Most rows one load reads; beyond it the values are left to be read one at a time.
LOAD_LIMIT = 20_000


def _matches(row: Fact, where: Mapping[str, str | None]) -> bool:
    return all(row[c] is None if v is None else row[c] == v for c, v in where.items())


def _key(table: str, read: FactsRead) -> tuple[Any, ...]:
    """What a read is remembered by: its table and every argument."""
    bounds = (read.after, read.upto, read.since_utc, read.until_utc, read.newest_first)
    return (table, tuple(sorted(read.where.items())), *bounds, read.limit)


class Prefetched:
    """A :class:`LineageReader` over another, with bulk loads and remembered reads."""

    def __init__(self, reader: LineageReader) -> None:
        self.reader = reader
        self._loaded: dict[tuple[str, str], dict[str, list[Fact]]] = {}
        self._facts: dict[tuple[Any, ...], list[Fact]] = {}
        self._refs: dict[tuple[str, ...] | None, dict[int, list[tuple[str, str]]]] = {}
        self._with: dict[tuple[str, str, int], list[int]] = {}
        self._names: dict[tuple[str, str], list[str]] = {}
        self._at: dict[str, dict[int, list[Fact]]] = {}

    def load(self, table: str, column: str, values: Iterable[str | None]) -> None:
        """Read every row of ``table`` whose ``column`` is one of ``values``, in one go."""
        have = self._loaded.setdefault((table, column), {})
        wanted = sorted({v for v in values if v is not None and v not in have})
        if not wanted:
            return
        rows = self.reader.facts_in(table, column, wanted, limit=LOAD_LIMIT)
        if rows is None:
            return
        for value in wanted:
            have[value] = []
        for row in rows:
            have[row[column]].append(row)

    def facts(
        self,
        table: str,
        where: Mapping[str, str | None],
        *,
        after: int | None = None,
        upto: int | None = None,
        since_utc: str | None = None,
        until_utc: str | None = None,
        newest_first: bool = False,
        limit: int = 200,
    ) -> list[Fact]:
        """As :meth:`LineageReader.facts`, from loaded rows when a loaded value is asked for."""
        read = FactsRead(where, after, upto, since_utc, until_utc, newest_first, limit)
        return self.facts_each(table, [read])[0]

    def facts_each(self, table: str, reads: Sequence[FactsRead]) -> list[list[Fact]]:
        """As :meth:`LineageReader.facts_each`: the reads neither loaded nor asked before go
        to the store together, and are remembered."""
        keys = [_key(table, read) for read in reads]
        loaded = [self._from_loaded(table, read) for read in reads]
        missing = {
            key: read
            for key, read, rows in zip(keys, reads, loaded, strict=True)
            if rows is None and key not in self._facts
        }
        if missing:
            found = self.reader.facts_each(table, list(missing.values()))
            self._facts.update(zip(missing, found, strict=True))
        return [
            [dict(r) for r in (self._facts[key] if rows is None else rows)]
            for key, rows in zip(keys, loaded, strict=True)
        ]

    def _from_loaded(self, table: str, read: FactsRead) -> list[Fact] | None:
        """The answer to ``read`` from the rows of a loaded value it asks for, if any."""
        if read.since_utc is not None or read.until_utc is not None:
            return None
        for column, value in read.where.items():
            rows = self._loaded.get((table, column), {}).get(value) if value else None
            if rows is None:
                continue
            found = [
                r
                for r in rows
                if _matches(r, read.where)
                and (read.after is None or r["idx"] > read.after)
                and (read.upto is None or r["idx"] <= read.upto)
            ]
            if read.newest_first:
                found.reverse()
            return found[: read.limit]
        return None

    def facts_in(
        self, table: str, column: str, values: Sequence[str], *, limit: int
    ) -> list[Fact] | None:
        """As :meth:`LineageReader.facts_in` (not remembered)."""
        return self.reader.facts_in(table, column, values, limit=limit)

    def load_with(self, kind: str, values: Iterable[str]) -> None:
        """Read the entries carrying ``(kind, value)`` for every value at once."""
        wanted = sorted({v for v in values if (kind, v, 200) not in self._with})
        found = self.reader.indices_with_any(kind, wanted, limit=LOAD_LIMIT) if wanted else None
        if found is None:
            return
        for value in wanted:
            self._with[(kind, value, 200)] = []
        for value, index in found:
            if len(self._with[(kind, value, 200)]) < 200:  # as indices_with's default limit
                self._with[(kind, value, 200)].append(index)

    def load_at(self, table: str, indices: Iterable[int]) -> None:
        """Read the rows of ``table`` stated by every entry of ``indices`` at once."""
        have = self._at.setdefault(table, {})
        wanted = sorted({i for i in indices if i not in have})
        for index in wanted:
            have[index] = []
        for row in self.reader.facts_at(table, wanted) if wanted else []:
            have[int(row["idx"])].append(row)

    def indices_with_any(
        self, kind: str, values: Sequence[str], *, limit: int
    ) -> list[tuple[str, int]] | None:
        """As :meth:`LineageReader.indices_with_any` (not remembered)."""
        return self.reader.indices_with_any(kind, values, limit=limit)

    def facts_at(self, table: str, indices: Sequence[int]) -> list[Fact]:
        """As :meth:`LineageReader.facts_at`, from loaded rows when every entry was loaded."""
        have = self._at.get(table, {})
        if all(i in have for i in indices):
            return [dict(r) for i in sorted(set(indices)) for r in have[i]]
        key = (table, "at", tuple(indices))
        if key not in self._facts:
            self._facts[key] = self.reader.facts_at(table, indices)
        return [dict(r) for r in self._facts[key]]

    def refs_of(
        self, indices: Sequence[int], kinds: Sequence[str] | None = None
    ) -> dict[int, list[tuple[str, str]]]:
        """As :meth:`LineageReader.refs_of`, reading only the entries not read before."""
        known = self._refs.setdefault(None if kinds is None else tuple(kinds), {})
        missing = [i for i in dict.fromkeys(indices) if i not in known]
        if missing:
            known.update(self.reader.refs_of(missing, kinds))
        return {i: list(known[i]) for i in indices}

    def indices_with(self, kind: str, value: str, *, limit: int = 200) -> list[int]:
        """As :meth:`LineageReader.indices_with`, remembered."""
        key = (kind, value, limit)
        if key not in self._with:
            self._with[key] = self.reader.indices_with(kind, value, limit=limit)
        return list(self._with[key])

    def names(self, table: str, column: str) -> list[str]:
        """As :meth:`LineageReader.names`, remembered."""
        if (table, column) not in self._names:
            self._names[(table, column)] = self.reader.names(table, column)
        return list(self._names[(table, column)])
