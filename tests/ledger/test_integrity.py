"""Tests for re-deriving the indexes verification compares: times in UTC and refs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flightlog.events.envelope import utc_timestamp
from flightlog.events.refs import extract_refs
from flightlog.ledger.audit import CheckedRow
from flightlog.ledger.integrity import parse_payload, times_hold, utc_index


def _reference_utc(time: str) -> str | None:
    try:
        return utc_timestamp(time)
    except (ValueError, OverflowError):
        return None


def _two(top: int) -> st.SearchStrategy[str]:
    return st.integers(0, top).map(lambda n: f"{n:02d}")


_TIMES = st.builds(
    lambda y, mo, d, t, h, mi, s, frac, zone: f"{y:04d}-{mo}-{d}{t}{h}:{mi}:{s}{frac}{zone}",
    st.integers(0, 9999),
    _two(13),
    _two(32),
    st.sampled_from(["T", "t", " "]),
    _two(25),
    _two(61),
    _two(61),
    st.one_of(
        st.just(""),
        st.text(alphabet="0123456789", min_size=1, max_size=9).map(lambda digits: f".{digits}"),
    ),
    st.sampled_from(["Z", "z", "+00:00", "-05:30", "+14:00", ""]),
)


class TestUtcIndex:
    """utc_index is what utc_timestamp gives, or None where it refuses the text."""

    @settings(max_examples=1000)
    @given(_TIMES)
    def test_matches_utc_timestamp_on_time_shaped_text(self, time: str) -> None:
        """Valid or not, in UTC or an offset, any fraction: the same index as the reference."""
        assert utc_index(time) == _reference_utc(time)

    @settings(max_examples=300)
    @given(st.text(max_size=30))
    def test_matches_utc_timestamp_on_any_text(self, time: str) -> None:
        """Arbitrary text (non-ASCII digits included) is read as the reference reads it."""
        assert utc_index(time) == _reference_utc(time)

    @pytest.mark.parametrize(
        ("time", "expected"),
        [
            ("2026-11-01T12:00:00Z", "2026-11-01T12:00:00.000000Z"),
            ("2026-11-01T12:00:00.5Z", "2026-11-01T12:00:00.500000Z"),
            ("2026-02-29T12:00:00Z", None),
            ("2024-02-29T12:00:00Z", "2024-02-29T12:00:00.000000Z"),
            ("0000-01-01T00:00:00Z", None),
            ("2026-11-01T12:00:00.1234567Z", "2026-11-01T12:00:00.123456Z"),
        ],
    )
    def test_known_times(self, time: str, expected: str | None) -> None:
        """Plain UTC times, leap days and cut fractions read as documented."""
        assert utc_index(time) == expected


_WHOLE = st.builds(
    lambda y, mo, d, h, mi, sec: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{sec:02d}Z",
    st.integers(0, 9999),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
)
_PAGE_TIMES = st.one_of(
    _WHOLE,
    _TIMES,
    _WHOLE.map(lambda t: t + "\n" + t),  # a time holding a line break
    st.text(max_size=8),
)


def _checked_row(time: str, time_utc: str) -> CheckedRow:
    return (0, "id", "/src", "type", time, "received", "d" * 64, None, time_utc)


class TestTimesHold:
    """times_hold, page at a time, agrees with utc_index row by row."""

    @settings(max_examples=500)
    @given(
        st.lists(
            st.tuples(_PAGE_TIMES, st.sampled_from(["index", "shifted", "joined", "other"])),
            max_size=6,
        )
    )
    def test_agrees_with_row_by_row(self, page: list[tuple[str, str]]) -> None:
        """Right and wrong indexes, line breaks inside fields, year 0: the row-by-row verdict."""
        rows = []
        for time, how in page:
            expected = utc_index(time) or "none"
            time_utc = {
                "index": expected,
                "shifted": expected.replace("0", "1", 1),
                "joined": expected + "\n" + expected,
                "other": "2026-01-01T00:00:00.000000Z",
            }[how]
            rows.append(_checked_row(time, time_utc))
        assert times_hold(rows) == all(utc_index(r[4]) == r[8] for r in rows)

    def test_whole_seconds_page(self) -> None:
        """A page of whole-second times holds with ".000000" indexes, and not with one off."""
        times = [f"2026-11-{d:02d}T12:00:{d:02d}Z" for d in range(1, 29)]
        rows = [_checked_row(t, t.replace("Z", ".000000Z")) for t in times]
        assert times_hold(rows)
        year_zero = "0000-01-01T00:00:00Z"
        assert not times_hold([*rows, _checked_row(year_zero, "0000-01-01T00:00:00.000000Z")])
        rows[5] = _checked_row(times[5], times[6].replace("Z", ".000000Z"))
        assert not times_hold(rows)


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**80), 2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
_REF_TEXT = st.one_of(st.text(max_size=12), st.sampled_from(["PAY-12 fix", " ", "\ud800x"]))


def _event(sid: Any, env: Any, extra: Any, ticket: Any) -> dict[str, Any]:
    return {
        "context": {"type": "dev.cdevents.service.deployed.0.3.0", "id": "e"},
        "subject": {"id": sid, "content": {"environment": {"id": env}, "extra": extra}},
        "customData": {"flightlog": {"ticket": ticket, "branch": sid}},
    }


class TestParsePayload:
    """Stored payloads parse to the refs json.loads would give, or fail as it does."""

    @settings(max_examples=300)
    @given(_REF_TEXT, st.one_of(_REF_TEXT, _JSON), _JSON, st.one_of(_REF_TEXT, _JSON))
    def test_refs_as_json_reads_them(self, sid: Any, env: Any, extra: Any, ticket: Any) -> None:
        """Any event (lone surrogates, huge integers, nested values) yields the same refs."""
        for ascii_only in (True, False):
            try:
                payload = json.dumps(_event(sid, env, extra, ticket), ensure_ascii=ascii_only)
                data = payload.encode()
            except UnicodeEncodeError:
                continue  # a lone surrogate has no UTF-8 form; escaped, it is covered above
            assert extract_refs(parse_payload(data)) == extract_refs(json.loads(data))

    @pytest.mark.parametrize(
        "payload",
        [b'{"a": NaN}', b'{"a": "\\ud800"}', b"\xef\xbb\xbf{}", '{"a": 1}'.encode("utf-16")],
    )
    def test_what_orjson_refuses_is_read_by_json(self, payload: bytes) -> None:
        """NaN, a lone surrogate escape, a BOM or UTF-16 parse exactly as json.loads parses."""
        assert repr(parse_payload(payload)) == repr(json.loads(payload))

    @pytest.mark.parametrize("payload", [b"", b"{", b"\xff", b'{"a": 1} x'])
    def test_no_json_is_a_value_error(self, payload: bytes) -> None:
        """Bytes that are no JSON document fail with ValueError, as json.loads does."""
        with pytest.raises(ValueError, match=r"."):
            parse_payload(payload)
