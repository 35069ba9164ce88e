"""UTC timestamps as the ledger writes them (RFC 3339, ``Z``)."""

from __future__ import annotations

from datetime import UTC, datetime

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, e.g. ``2026-11-26T23:30:00.123456Z``.

    The year has four digits whatever it is (``strftime("%Y")`` writes year 607 as
    ``607`` on glibc, which neither RFC 3339 nor :func:`parse_timestamp` accepts).
    """
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_timestamp(text: str) -> datetime:
    """The moment a :func:`format_timestamp` string names."""
    return datetime.strptime(text, _FORMAT).replace(tzinfo=UTC)


def utc_now() -> str:
    """The current time as :func:`format_timestamp` renders it."""
    return format_timestamp(datetime.now(UTC))


def utc_seconds() -> str:
    """The current time to the second, e.g. ``2026-11-26T23:30:00Z`` (token dates)."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
