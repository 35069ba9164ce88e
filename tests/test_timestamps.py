"""UTC timestamps: written with a four-digit year and microseconds, read back exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from flightlog.timestamps import format_timestamp, parse_timestamp


class TestTimestamps:
    def test_a_year_before_1000_has_four_digits(self) -> None:
        """Year 607, given with an offset, is written as 0607 in UTC and read back."""
        moment = datetime(607, 1, 1, 10, 39, 48, tzinfo=timezone(timedelta(hours=2, minutes=17)))
        text = format_timestamp(moment)
        assert text == "0607-01-01T08:22:48.000000Z"
        assert parse_timestamp(text) == moment

    def test_the_ledger_form(self) -> None:
        """A moment with microseconds is written as RFC 3339 UTC with ``Z``."""
        moment = datetime(2026, 11, 26, 23, 30, 0, 123456, tzinfo=UTC)
        assert format_timestamp(moment) == "2026-11-26T23:30:00.123456Z"

    @given(st.datetimes(min_value=datetime(2, 1, 1), timezones=st.just(UTC)))
    def test_every_moment_round_trips_and_sorts_as_text(self, moment: datetime) -> None:
        """Any UTC moment reads back exactly, and text order is time order."""
        text = format_timestamp(moment)
        assert parse_timestamp(text) == moment
        assert len(text) == 27
        later = moment + timedelta(microseconds=1) if moment.year < 9999 else moment
        assert format_timestamp(later) >= text
