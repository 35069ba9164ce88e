"""What verification checks beyond the Merkle tree: cells, erasures and derived indexes.

Queries trust the refs index and the ``time_utc`` column, which are derived from the
payloads and committed to by nothing; they are re-derived here and any difference is
reported as ``index_drift``. An erased payload is accepted only when a genuine erasure
record (written by ``flightlog erase``, later in the log, naming the entry's index and
payload digest) exists. A cell of the wrong storage type is ``cell_malformed``, never
a traceback.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from flightlog.errors import FlightlogError
from flightlog.events.envelope import utc_timestamp
from flightlog.events.refs import extract_refs
from flightlog.ledger.audit import Problem

__all__ = [
    "INTEGRITY_KINDS",
    "DerivedSource",
    "cell_problem",
    "derived_problem",
    "derived_range_problem",
    "erasure_source",
    "genuine_erasures",
    "refs_outside_problem",
]

INTEGRITY_KINDS = ("cell_malformed", "index_drift")
PAGE = 2000


class DerivedSource(Protocol):
    """Reads of one snapshot that the derived-index check needs."""

    def derived_between(self, start: int, end: int) -> list[tuple[int, str, str, bytes | None]]: ...
    def refs_between(self, start: int, end: int) -> list[tuple[int, str, str]]: ...
    def first_ref_outside(self, size: int) -> int | None: ...


def erasure_source(origin: str) -> str:
    """The ``context.source`` of the erasure records ``flightlog erase`` writes."""
    return f"/flightlog/{origin}"


def cell_problem(found: tuple[str, int | None] | None) -> Problem | None:
    """The problem for a cell of the wrong storage type, as ``malformed_cell`` reports it."""
    if found is None:
        return None
    table, index = found
    where = f" at index {index}" if index is not None and table != "checkpoints" else ""
    return Problem(
        index if table != "checkpoints" else None,
        "cell_malformed",
        f"a cell of table {table}{where} holds a value of the wrong type",
    )


def _claim(payload: bytes | None) -> tuple[str, int, str] | None:
    """``(source, index, digest)`` an erasure payload claims, or None if it is not one."""
    if payload is None:
        return None
    try:
        event = json.loads(payload)
    except (ValueError, TypeError):
        return None
    content = _at(event, "subject", "content")
    source = _at(event, "context", "source")
    if not isinstance(content, dict) or not isinstance(source, str):
        return None
    index, digest = content.get("index"), content.get("payloadSha256")
    if isinstance(index, bool) or not isinstance(index, int) or not isinstance(digest, str):
        return None
    return source, index, digest


def _at(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def genuine_erasures(
    records: Iterable[tuple[int, bytes | None]],
    digests_of: Callable[[Sequence[int]], Mapping[int, str]],
    origin: str,
) -> list[int]:
    """Indices whose erasure is genuine: claimed later in the log, by the erase path's
    source, with the entry's own payload digest."""
    claims: dict[int, str] = {}
    for at, payload in records:
        claim = _claim(payload)
        if claim is not None and claim[0] == erasure_source(origin) and 0 <= claim[1] < at:
            claims.setdefault(claim[1], claim[2])
    digests = digests_of(sorted(claims))
    return sorted(i for i, digest in claims.items() if digests.get(i) == digest)


def _refs_of(payload: bytes) -> set[tuple[str, str]] | None:
    try:
        return set(extract_refs(json.loads(payload)))
    except (ValueError, TypeError, FlightlogError):
        return None


def _entry_drift(
    index: int, time: str, time_utc: str, payload: bytes | None, stored: set[tuple[str, str]]
) -> Problem | None:
    try:
        expected_utc = utc_timestamp(time)
    except (ValueError, OverflowError):
        expected_utc = None
    if expected_utc != time_utc:
        return Problem(
            index,
            "index_drift",
            f"the time index of entry {index} reads {time_utc!r}, but its time {time!r} "
            f"is {expected_utc!r} in UTC: time filters would miss or misplace it",
        )
    derived = set() if payload is None else _refs_of(payload)
    if derived is not None and derived != stored:
        gone = sorted(derived - stored)
        added = sorted(stored - derived)
        what = (
            f"lacks {', '.join(f'{k}={v}' for k, v in gone[:3])}"
            if gone
            else f"holds {', '.join(f'{k}={v}' for k, v in added[:3])} not in the "
            + ("erased payload" if payload is None else "payload")
        )
        return Problem(
            index, "index_drift", f"the refs index of entry {index} {what}: queries would differ"
        )
    return None


def derived_range_problem(
    source: DerivedSource, start: int, end: int, page: int = PAGE
) -> Problem | None:
    """The first entry of ``[start, end)`` whose time index or refs differ from its payload."""
    for first in range(start, end, page):
        last = min(first + page, end)
        stored: defaultdict[int, set[tuple[str, str]]] = defaultdict(set)
        for idx, kind, value in source.refs_between(first, last):
            stored[idx].add((kind, value))
        for idx, time, time_utc, payload in source.derived_between(first, last):
            problem = _entry_drift(idx, time, time_utc, payload, stored.get(idx, set()))
            if problem is not None:
                return problem
    return None


def refs_outside_problem(source: DerivedSource, size: int) -> Problem | None:
    """A ref row naming an index outside the log of ``size`` entries."""
    extra = source.first_ref_outside(size)
    if extra is None:
        return None
    return Problem(
        extra, "index_drift", f"the refs index names entry {extra}, which is not in the log"
    )


def derived_problem(source: DerivedSource, size: int, page: int = PAGE) -> Problem | None:
    """The first entry whose time index or refs differ from what its payload yields."""
    return derived_range_problem(source, 0, size, page) or refs_outside_problem(source, size)
