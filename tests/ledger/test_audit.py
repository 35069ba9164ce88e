"""Tests for the verification core's page-at-a-time leaf hashing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flightlog.errors import EventInvalid
from flightlog.events.canonical import canonical_bytes
from flightlog.ledger.audit import CheckedRow, leaf_hashes
from flightlog.ledger.entry import LEAF_FIELDS
from flightlog.ledger.merkle import leaf_hash

# Any text: quotes, backslashes, control characters, non-ASCII, astral code points.
_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12)
_PLAIN = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
_FIELDS = st.tuples(_TEXT, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT)


def _row(idx: int, fields: tuple[str, str, str, str, str, str]) -> CheckedRow:
    event_id, source, type_, time, received_at, digest = fields
    return (idx, event_id, source, type_, time, received_at, digest, None, "")


def _reference(row: CheckedRow) -> bytes:
    """The leaf hash through the general RFC 8785 encoder."""
    _, event_id, source, type_, time, received_at, digest, _, _ = row
    values = (event_id, source, type_, time, received_at, digest)
    return leaf_hash(canonical_bytes(dict(zip(LEAF_FIELDS, values, strict=True))))


class TestLeafHashes:
    """leaf_hashes gives the RFC 8785 leaf hash of every row, whatever its fields hold."""

    @settings(max_examples=300)
    @given(st.lists(_FIELDS, max_size=6))
    def test_any_fields_match_the_reference_encoder(
        self, pages: list[tuple[str, str, str, str, str, str]]
    ) -> None:
        """Pages of arbitrary text fields hash exactly as the RFC 8785 encoder's bytes."""
        rows = [_row(i, f) for i, f in enumerate(pages)]
        assert leaf_hashes(rows) == [_reference(r) for r in rows]

    @settings(max_examples=200)
    @given(st.lists(st.tuples(_PLAIN, _PLAIN, _PLAIN, _PLAIN, _PLAIN, _PLAIN), max_size=6))
    def test_printable_ascii_fields_match_the_reference_encoder(
        self, pages: list[tuple[str, str, str, str, str, str]]
    ) -> None:
        """Printable ASCII (quotes and backslashes included) hashes as the reference does."""
        rows = [_row(i, f) for i, f in enumerate(pages)]
        assert leaf_hashes(rows) == [_reference(r) for r in rows]

    def test_one_escaped_field_in_a_plain_page(self) -> None:
        """A quote, a backslash or a control character in one row leaves every leaf exact."""
        plain = ("log-1", "/ci", "dev.cdevents.service.deployed.0.3.0", "2026-01-01T00:00:00Z")
        tail = ("2026-01-01T00:00:01.000000Z", "ab" * 32)
        for odd in ('a"b', "a\\b", "a\nb", "a\x00b", "a\x1fb", "a\x7fb", "caf\u00e9", "\U0001f600"):
            rows = [_row(0, (*plain, *tail)), _row(1, (odd, *plain[1:], *tail))]
            assert leaf_hashes(rows) == [_reference(r) for r in rows], odd

    def test_lone_surrogate_is_left_to_the_general_encoder(self) -> None:
        """A field no UTF-8 can hold fails as the RFC 8785 encoder fails, in any page."""
        plain = ("log-1", "/ci", "dev.cdevents.service.deployed.0.3.0", "2026-01-01T00:00:00Z")
        tail = ("2026-01-01T00:00:01.000000Z", "ab" * 32)
        rows = [_row(0, (*plain, *tail)), _row(1, ("a\ud800", *plain[1:], *tail))]
        with pytest.raises(EventInvalid, match="RFC 8785"):
            leaf_hashes(rows)
        with pytest.raises(EventInvalid, match="RFC 8785"):
            _reference(rows[1])
