"""The read port the lineage questions ask: projection rows, refs and search, no SQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Fact = dict[str, Any]


@dataclass(frozen=True)
class FactsRead:
    """The arguments of one :meth:`LineageReader.facts` read, to ask several at once."""

    where: Mapping[str, str | None]
    after: int | None = None
    upto: int | None = None
    since_utc: str | None = None
    until_utc: str | None = None
    newest_first: bool = False
    limit: int = 200


class LineageReader(Protocol):
    """Reads of the lineage tables (implemented in ``store/lineage.py``)."""

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
        """Rows of ``table`` whose columns equal ``where`` (None: IS NULL), by ledger index."""
        ...

    def facts_each(self, table: str, reads: Sequence[FactsRead]) -> list[list[Fact]]:
        """:meth:`facts` of each of ``reads``, in as few round trips as the store can."""
        ...

    def facts_in(
        self, table: str, column: str, values: Sequence[str], *, limit: int
    ) -> list[Fact] | None:
        """Rows of ``table`` whose ``column`` is one of ``values``; None beyond ``limit`` rows."""
        ...

    def facts_at(self, table: str, indices: Sequence[int]) -> list[Fact]:
        """Rows of ``table`` stated by the entries at ``indices``, by ledger index."""
        ...

    def refs_of(
        self, indices: Sequence[int], kinds: Sequence[str] | None = None
    ) -> dict[int, list[tuple[str, str]]]:
        """The refs of several entries (only those of ``kinds`` when given)."""
        ...

    def indices_with_any(
        self, kind: str, values: Sequence[str], *, limit: int
    ) -> list[tuple[str, int]] | None:
        """``(value, index)`` of the entries carrying ``(kind, value)`` for any of ``values``,
        by value then ledger order; None beyond ``limit`` of them."""
        ...

    def indices_with(self, kind: str, value: str, *, limit: int = 200) -> list[int]:
        """Entries carrying the ref ``(kind, value)``, in ledger order."""
        ...

    def names(self, table: str, column: str) -> list[str]:
        """The distinct values of one column of one table, sorted."""
        ...
