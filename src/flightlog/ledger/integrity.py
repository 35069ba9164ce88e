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
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import orjson

from flightlog.errors import FlightlogError
from flightlog.events.envelope import utc_timestamp
from flightlog.events.refs import Ref, extract_refs
from flightlog.ledger.audit import CheckedRow, Problem

__all__ = [
    "INTEGRITY_KINDS",
    "DerivedSource",
    "cell_problem",
    "derived_range_problem",
    "erasure_source",
    "genuine_erasures",
    "ref_rows",
    "refs_outside_problem",
    "rows_problem",
    "times_hold",
]

INTEGRITY_KINDS = ("cell_malformed", "index_drift")
PAGE = 2000


class DerivedSource(Protocol):
    """Reads of one snapshot that the derived-index check needs."""

    def checked_rows_between(self, start: int, end: int) -> list[CheckedRow]: ...
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


def parse_payload(payload: bytes) -> Any:
    """A stored payload parsed as JSON, as ``json.loads`` reads it.

    orjson reads a well-formed UTF-8 document several times faster; what it refuses
    (NaN, lone surrogate escapes, other encodings …) is read by ``json.loads``, which
    decides. It differs from ``json.loads`` only on integers beyond 64 bits (read as
    floats), and refs are derived from strings alone.
    """
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return json.loads(payload)


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


def _refs_of(payload: bytes) -> list[Ref] | None:
    """The refs a payload yields (sorted, unique), or None if it is no JSON document."""
    try:
        return extract_refs(parse_payload(payload))
    except (ValueError, TypeError, FlightlogError):
        return None


def _expected_utc(time: str) -> str | None:
    """What ``time_utc`` must read for ``time``: its UTC form, or None if it is not a time."""
    try:
        return utc_timestamp(time)
    except (ValueError, OverflowError):
        return None


# A UTC time whose fields are valid whatever the month (days up to 28, no year 0): its
# index is the text itself with the fraction padded or cut to six digits.
_SECONDS = r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
_PLAIN_UTC = re.compile(rf"({_SECONDS})(?:\.([0-9]{{1,6}}))?Z")
# Such times without a fraction, one a line: each one's index is itself with ".000000"
# before its "Z" (its only "Z").
_WHOLE_SECONDS_PAGE = re.compile(rf"(?:{_SECONDS}Z\n)*{_SECONDS}Z")


def utc_index(time: str) -> str | None:
    """What ``time_utc`` must read for ``time`` (:func:`_expected_utc`, faster on plain UTC)."""
    found = _PLAIN_UTC.fullmatch(time)
    if found is None or time.startswith("0000"):
        return _expected_utc(time)
    fraction = found[2]
    return f"{found[1]}.{fraction.ljust(6, '0') if fraction else '000000'}Z"


def _entry_drift(
    index: int, time: str, time_utc: str, payload: bytes | None, stored: set[tuple[str, str]]
) -> Problem | None:
    expected_utc = _expected_utc(time)
    if expected_utc != time_utc:
        return Problem(
            index,
            "index_drift",
            f"the time index of entry {index} reads {time_utc!r}, but its time {time!r} "
            f"is {expected_utc!r} in UTC: time filters would miss or misplace it",
        )
    refs = [] if payload is None else _refs_of(payload)
    derived = None if refs is None else set(refs)
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


def _first_drift(
    rows: Sequence[CheckedRow], stored_refs: Iterable[tuple[int, str, str]]
) -> Problem | None:
    """The first of ``rows`` whose time index or refs differ, checked entry by entry."""
    stored: defaultdict[int, set[tuple[str, str]]] = defaultdict(set)
    for idx, kind, value in stored_refs:
        stored[idx].add((kind, value))
    for row in rows:
        idx, time, payload, time_utc = row[0], row[4], row[7], row[8]
        problem = _entry_drift(idx, time, time_utc, payload, stored.get(idx, set()))
        if problem is not None:
            return problem
    return None


def rows_problem(source: DerivedSource, rows: Sequence[CheckedRow]) -> Problem | None:
    """The first of ``rows`` (consecutive entries) whose time index or refs differ.

    The refs stored for the whole run are read with one query, in index order (each
    entry's as appends wrote them: sorted, as the payloads yield them), and compared as
    one list with the refs re-derived from every payload: equal lists mean every entry's
    refs match. Anything else (a difference, refs stored in another order, a payload
    orjson does not read) is looked at entry by entry, as sets, to name the first problem.
    """
    if not rows:
        return None
    stored = source.refs_between(rows[0][0], rows[-1][0] + 1)
    if times_hold(rows):
        kept = [r for r in rows if r[7] is not None]
        try:
            found = [extract_refs(orjson.loads(r[7])) for r in kept]  # type: ignore[arg-type]
        except (ValueError, TypeError, FlightlogError):
            pass
        else:
            if ref_rows(kept, found) == stored:
                return None
    return _first_drift(rows, stored)


def times_hold(rows: Sequence[CheckedRow]) -> bool:
    """Whether every row's time index is what its time reads in UTC (:func:`utc_index`).

    A page of whole-second UTC times (the common form) is checked as one text: one
    match over the times joined a line each, then one comparison with the indexes joined
    alike. The line count makes sure no time or index spans lines, so the texts are equal
    only if every row's are. Any other page is checked row by row.
    """
    times = "\n".join([r[4] for r in rows])
    if (
        times.count("\n") == len(rows) - 1
        and not times.startswith("0000")
        and "\n0000" not in times
        and _WHOLE_SECONDS_PAGE.fullmatch(times) is not None
    ):
        return times.replace("Z", ".000000Z") == "\n".join([r[8] for r in rows])
    return [utc_index(r[4]) for r in rows] == [r[8] for r in rows]


def ref_rows(rows: Sequence[CheckedRow], found: Sequence[list[Ref]]) -> list[tuple[int, str, str]]:
    """``(idx, kind, value)`` of the refs ``found`` for each of ``rows``, in that order."""
    return [
        (r[0], kind, value) for r, refs in zip(rows, found, strict=True) for kind, value in refs
    ]


def derived_range_problem(
    source: DerivedSource, start: int, end: int, page: int = PAGE
) -> Problem | None:
    """The first entry of ``[start, end)`` whose time index or refs differ from its payload."""
    for first in range(start, end, page):
        problem = rows_problem(source, source.checked_rows_between(first, min(first + page, end)))
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
