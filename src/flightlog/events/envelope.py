"""The CDEvents envelope: event type strings, the header fields and timestamps.

CDEvents v0.5.1 (spec.md, "type (context)") names every event
``dev.cdevents.<subject>.<predicate>.<M.m.p>``; types defined outside the spec use the
``dev.cdeventsx.<tool>-<subject>.<predicate>.<M.m.p>`` form of custom events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flightlog.errors import UnknownEventType

__all__ = [
    "CDEVENTS",
    "CDEVENTSX",
    "ERASURE_TYPE",
    "EventHeader",
    "EventType",
    "parse_event_type",
    "parse_timestamp",
    "utc_timestamp",
]

CDEVENTS = "dev.cdevents"
CDEVENTSX = "dev.cdeventsx"
ERASURE_TYPE = "dev.cdeventsx.flightlog-payload.erased.0.1.0"

_TYPE = re.compile(
    r"(?P<namespace>dev\.cdevents|dev\.cdeventsx)"
    r"\.(?P<subject>[a-z]+|[A-Za-z0-9]+-[A-Za-z0-9]+)"
    r"\.(?P<predicate>[A-Za-z]+)"
    r"\.(?P<version>(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*))"
)
# RFC 3339 §5.6 date-time; the "t"/"z" lower-case forms are allowed by its §5.6 note.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)
_LEAP_SECOND = 60
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True)
class EventType:
    """A parsed CDEvents type string: namespace, subject, predicate and version."""

    namespace: str
    subject: str
    predicate: str
    version: str

    @property
    def name(self) -> str:
        """Return the type without its version, e.g. ``dev.cdevents.service.deployed``."""
        return f"{self.namespace}.{self.subject}.{self.predicate}"

    @property
    def custom(self) -> bool:
        """Return whether this is a ``dev.cdeventsx`` custom type."""
        return self.namespace == CDEVENTSX

    def __str__(self) -> str:
        """Return the full type string including the version."""
        return f"{self.name}.{self.version}"


def parse_event_type(value: str) -> EventType:
    """Parse a ``context.type`` string, raising UnknownEventType if it is not of CDEvents form."""
    match = _TYPE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise UnknownEventType(
            f"{value!r} is not a CDEvents type "
            "(expected dev.cdevents.<subject>.<predicate>.<M.m.p> "
            "or dev.cdeventsx.<tool>-<subject>.<predicate>.<M.m.p>)",
            path="$.context.type",
        )
    namespace, subject = match["namespace"], match["subject"]
    if (namespace == CDEVENTSX) != ("-" in subject):
        raise UnknownEventType(
            f"{value!r} is not a CDEvents type: custom types are "
            "dev.cdeventsx.<tool>-<subject>.<predicate>.<M.m.p>, spec types have no '-'",
            path="$.context.type",
        )
    return EventType(namespace, subject, match["predicate"], match["version"])


@dataclass(frozen=True)
class EventHeader:
    """The identifying fields of a validated event."""

    id: str
    source: str
    type: str
    timestamp: str
    event_type: EventType
    time_utc: str


def parse_timestamp(value: str) -> datetime:
    """Parse an RFC 3339 date-time into an aware UTC datetime, raising ValueError if invalid."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise ValueError("not an RFC 3339 date-time (YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM))")
    year, month, day, hour, minute, second = map(int, match.group(1, 2, 3, 4, 5, 6))
    fraction = match[7]
    micros = int(fraction[:6].ljust(6, "0")) if fraction else 0
    # RFC 3339 §5.7 allows a leap second (:60); datetime cannot hold it, so it is
    # represented as the last microsecond of the preceding second.
    leap = second == _LEAP_SECOND
    if leap:
        second, micros = 59, 999_999
    if match[8]:
        offset = timedelta(0)
    else:
        off_h, off_m = int(match[10]), int(match[11])
        if off_h > 23 or off_m > 59:
            raise ValueError("time zone offset out of range")
        offset = timedelta(hours=off_h, minutes=off_m) * (-1 if match[9] == "-" else 1)
    try:
        local = datetime(year, month, day, hour, minute, second, micros, tzinfo=UTC)
        return local - offset if offset else local
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"date or time out of range: {exc}") from exc


def _days_in_month(year: int, month: int) -> int:
    """Return the number of days of ``month`` in ``year`` (Gregorian calendar)."""
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS[month - 1]


def utc_timestamp(value: str) -> str:
    """Normalise an RFC 3339 date-time to sortable UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    match = _RFC3339.fullmatch(value)
    # Fast path for timestamps already in UTC (nearly all): check the fields, copy the text.
    if match is not None and match[8]:
        year, month, day, hour, minute, second = map(int, match.group(1, 2, 3, 4, 5, 6))
        if (
            year >= 1
            and 1 <= month <= 12
            and 1 <= day <= _days_in_month(year, month)
            and hour < 24
            and minute < 60
            and second < 60
        ):
            fraction = (match[7] or "")[:6].ljust(6, "0")
            return f"{match[1]}-{match[2]}-{match[3]}T{match[4]}:{match[5]}:{match[6]}.{fraction}Z"
    m = parse_timestamp(value)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond:06d}Z"
    )
