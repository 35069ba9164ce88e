"""Tests of event parsing and RFC 8785 canonical bytes."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from flightlog.errors import EventInvalid, InputTooLarge, MalformedInput
from flightlog.events.canonical import (
    MAX_DEPTH,
    _fast_parse,
    canonical_bytes,
    parse_document,
    parse_events,
)

SAFE = 2**53 - 1

# Full Unicode including astral characters; surrogates are a separate strategy.
unicode_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
any_text = st.text(st.characters(exclude_categories=[]), max_size=12)
# Text a plain document can hold: no backslash, quote or control character once dumped
# without ASCII escapes (astral characters included, which the fast road declines).
plain_text = st.text(
    st.characters(exclude_categories=["Cs", "Cc"], exclude_characters='"\\'), max_size=12
)


def json_values(text: st.SearchStrategy[str], scalars: st.SearchStrategy[Any]) -> Any:
    """Return a strategy of JSON values built from ``scalars`` with ``text`` keys."""
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4)
        ),
        max_leaves=20,
    )


float_free_scalars = (
    st.none() | st.booleans() | st.integers(min_value=-SAFE, max_value=SAFE) | unicode_text
)


def scalars_with(text: st.SearchStrategy[str], *, int_bound: int) -> st.SearchStrategy[Any]:
    """JSON scalars: null, booleans, integers within ``int_bound``, finite floats, ``text``."""
    return (
        st.none()
        | st.booleans()
        | st.integers(min_value=-int_bound, max_value=int_bound)
        | st.floats(allow_nan=False, allow_infinity=False)
        | text
    )


number_scalars = scalars_with(any_text, int_bound=2**60)


class TestCanonicalBytes:
    """canonical_bytes: RFC 8785 bytes by either encoder."""

    def test_sorts_keys_and_drops_whitespace(self) -> None:
        """Keys come out sorted and no insignificant whitespace is written."""
        assert (
            canonical_bytes({"b": [1, True, None], "a": "é"})
            == '{"a":"é","b":[1,true,null]}'.encode()
        )

    def test_fast_path_matches_reference_with_astral_keys(self) -> None:
        """Keys above U+FFFF are ordered by UTF-16 code units even on the fast path."""
        obj = {"\U0001f600": 1, "\ufb01": 2}
        assert canonical_bytes(obj, float_free=True) == rfc8785.dumps(obj)
        assert canonical_bytes(obj, float_free=True).index("\ufb01".encode()) > 2

    def test_floats_use_ecmascript_form(self) -> None:
        """Floats are written the ECMAScript way (RFC 8785 §3.2.2.3)."""
        assert (
            canonical_bytes({"x": 1e21, "y": 1.0, "z": 0.000001})
            == b'{"x":1e+21,"y":1,"z":0.000001}'
        )

    def test_big_int_is_event_invalid(self) -> None:
        """An integer beyond 2**53-1 cannot be canonicalised."""
        with pytest.raises(EventInvalid, match=r"exceeds safe integer domain"):
            canonical_bytes({"n": 2**53}, float_free=True)

    def test_wrong_float_free_hint_still_canonical(self) -> None:
        """Floats passed with float_free=True still get their RFC 8785 form."""
        value = {"a": [1e21, 2.50, -0.0], "b": 9007199254740991}
        assert (
            canonical_bytes(value, float_free=True) == b'{"a":[1e+21,2.5,0],"b":9007199254740991}'
        )

    def test_nan_is_event_invalid(self) -> None:
        """NaN cannot be canonicalised, whichever path is asked for."""
        with pytest.raises(EventInvalid, match=r"not representable"):
            canonical_bytes([float("nan")], float_free=True)

    def test_lone_surrogate_key_is_event_invalid(self) -> None:
        """An object key holding a lone surrogate cannot be canonicalised."""
        with pytest.raises(EventInvalid, match=r"lone surrogate in a key"):
            canonical_bytes({"\udc00": 1}, float_free=True)

    def test_lone_surrogate_is_event_invalid(self) -> None:
        """A string holding a lone surrogate cannot be canonicalised."""
        with pytest.raises(EventInvalid, match=r"non-UTF-8"):
            canonical_bytes({"s": "\ud800"}, float_free=True)

    @settings(max_examples=300)
    @given(json_values(any_text, float_free_scalars | any_text))
    def test_fast_path_equals_rfc8785(self, value: Any) -> None:
        """Without floats the fast path gives rfc8785's bytes, or both reject the value."""
        try:
            expected = rfc8785.dumps(value)
        except ValueError:  # CanonicalizationError, or UnicodeEncodeError on surrogate keys
            with pytest.raises(EventInvalid):
                canonical_bytes(value, float_free=True)
        else:
            assert canonical_bytes(value, float_free=True) == expected


class TestParseDocument:
    """parse_document: one JSON document with its canonical bytes."""

    def test_value_canonical_and_position(self) -> None:
        """The parsed value, its canonical bytes and the name as position come back."""
        doc = parse_document(b'{ "z": 1.50, "a": [10, "x"] }', name="e.json")
        assert doc.value == {"z": 1.5, "a": [10, "x"]}
        assert doc.canonical == b'{"a":[10,"x"],"z":1.5}'
        assert doc.position == "e.json"

    def test_malformed_json_names_line_and_column(self) -> None:
        """A syntax error names the input, line, column and reason."""
        with pytest.raises(
            MalformedInput, match=r"^events\.json: line 3, column 3: Expecting ',' delimiter$"
        ):
            parse_document('{\n  "a": 1\n  "b": 2\n}', name="events.json")

    def test_invalid_utf8(self) -> None:
        """Bytes that are not UTF-8 are malformed input, with the offending offset."""
        with pytest.raises(MalformedInput, match=r"^e\.json: invalid UTF-8 at byte 7"):
            parse_document(b'{"a": "\xff"}', name="e.json")

    def test_byte_order_mark_is_ignored(self) -> None:
        """A leading UTF-8 byte order mark does not make the input malformed."""
        assert parse_document(b'\xef\xbb\xbf{"a": 1}', name="e.json").value == {"a": 1}

    @pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
    def test_non_finite_numbers_rejected(self, literal: str) -> None:
        """NaN and the infinities are not JSON (RFC 8259 §6)."""
        with pytest.raises(MalformedInput, match=rf"^e\.json: {literal} is not a JSON value"):
            parse_document(f'{{"x": {literal}}}', name="e.json")

    def test_duplicate_keys_rejected(self) -> None:
        """Duplicate object keys are refused (I-JSON, RFC 7493 §2.3)."""
        with pytest.raises(MalformedInput, match=r"duplicate object key 'id'"):
            parse_document('{"id": "a", "x": {}, "id": "b"}', name="e.json")

    def test_big_int_is_event_invalid_at_position(self) -> None:
        """An integer beyond the safe range is an invalid event located at the document."""
        with pytest.raises(EventInvalid, match=r"^e\.json: \$: .*exceeds safe integer domain"):
            parse_document('{"n": 9007199254740993}', name="e.json")

    def test_huge_int_literal_is_event_invalid(self) -> None:
        """An integer literal too long for int() is an invalid event, not a crash."""
        with pytest.raises(EventInvalid, match=r"number out of range"):
            parse_document('{"n": ' + "9" * 5000 + "}", name="e.json")

    def test_empty_input(self) -> None:
        """Blank input is malformed."""
        with pytest.raises(MalformedInput, match=r"^e\.json: empty input$"):
            parse_document(b"  \n", name="e.json")

    def test_big_safe_int_uses_fast_path_result(self) -> None:
        """The largest safe integer is kept exactly."""
        assert parse_document(str(SAFE), name="n").canonical == str(SAFE).encode()

    @settings(max_examples=300)
    @given(json_values(any_text, number_scalars))
    def test_canonical_equals_rfc8785(self, value: Any) -> None:
        """The canonical bytes of a dumped value are rfc8785's, floats included."""
        text = json.dumps(value)
        try:
            expected = rfc8785.dumps(value)
        except ValueError:  # CanonicalizationError, or UnicodeEncodeError on surrogate keys
            with pytest.raises(EventInvalid):
                parse_document(text, name="v.json")
        else:
            assert parse_document(text, name="v.json").canonical == expected


class TestParseEvents:
    """parse_events: one object, an array of objects, or JSON Lines."""

    def test_single_object(self) -> None:
        """One object is one event positioned at the name."""
        docs = parse_events('{"b": 2, "a": 1}', name="e.json")
        assert [(d.position, d.canonical) for d in docs] == [("e.json", b'{"a":1,"b":2}')]

    def test_array_positions_and_per_item_canonical(self) -> None:
        """Array items are positioned name[i] and canonicalised one by one."""
        docs = parse_events(' [{"x": 1.0}, {"y": "ü", "a": null}]', name="batch.json")
        assert [d.position for d in docs] == ["batch.json[0]", "batch.json[1]"]
        assert [d.canonical for d in docs] == [b'{"x":1}', '{"a":null,"y":"ü"}'.encode()]

    def test_json_lines_positions_skip_blank_lines(self) -> None:
        """JSON Lines are positioned name:LINE, counting blank lines but not returning them."""
        docs = parse_events('{"a": 1}\n\n{"b": 2}\r\n', name="e.jsonl")
        assert [(d.position, d.value) for d in docs] == [
            ("e.jsonl:1", {"a": 1}),
            ("e.jsonl:3", {"b": 2}),
        ]

    def test_pretty_printed_object_is_one_event(self) -> None:
        """A single object spread over several lines is one event, not JSON Lines."""
        docs = parse_events('{\n  "a": 1\n}\n', name="e.json")
        assert [d.value for d in docs] == [{"a": 1}]

    def test_json_lines_error_names_absolute_line(self) -> None:
        """A syntax error in JSON Lines names the line in the whole input."""
        with pytest.raises(MalformedInput, match=r"^e\.jsonl: line 4, column 7: Expecting value$"):
            parse_events('{"a": 1}\n{"b": 2}\n\n{"c": }\n', name="e.jsonl")

    def test_array_item_not_object(self) -> None:
        """A non-object array item is an invalid event at its index."""
        with pytest.raises(
            EventInvalid, match=r"^e\.json\[1\]: \$: expected a JSON object, got a number$"
        ):
            parse_events('[{"a": 1}, 2]', name="e.json")

    def test_json_line_not_object(self) -> None:
        """A non-object line is an invalid event at its line."""
        with pytest.raises(
            EventInvalid, match=r"^e\.jsonl:2: \$: expected a JSON object, got an array"
        ):
            parse_events('{"a": 1}\n[1]\n', name="e.jsonl")

    def test_single_document_not_object(self) -> None:
        """A lone string is not an event."""
        with pytest.raises(
            EventInvalid, match=r"^e\.json: \$: expected a JSON object, got a string"
        ):
            parse_events('"hello"', name="e.json")

    def test_array_over_limit(self) -> None:
        """More array items than max_events is too large."""
        with pytest.raises(InputTooLarge, match=r"^e\.json: 3 events exceed the limit of 2"):
            parse_events("[{}, {}, {}]", name="e.json", max_events=2)

    def test_json_lines_over_limit(self) -> None:
        """More non-blank lines than max_events is too large."""
        with pytest.raises(InputTooLarge, match=r"^e\.jsonl: 3 events exceed the limit of 1"):
            parse_events("{}\n{}\n\n{}\n", name="e.jsonl", max_events=1)

    def test_limit_reached_exactly_is_fine(self) -> None:
        """Exactly max_events events are accepted."""
        assert len(parse_events("[{}, {}]", name="e.json", max_events=2)) == 2

    def test_empty_input(self) -> None:
        """Empty input is malformed."""
        with pytest.raises(MalformedInput, match=r"^e\.json: empty input$"):
            parse_events(b"", name="e.json")

    def test_empty_array_is_no_events(self) -> None:
        """An empty array holds no events."""
        assert parse_events("[]", name="e.json") == []

    def test_float_in_one_item_keeps_reference_encoding(self) -> None:
        """Items of an array holding a float are canonicalised by the reference encoder."""
        docs = parse_events('[{"k": "\U0001f600", "\ufb01": 1}, {"f": 2.50}]', name="e.json")
        assert [d.canonical for d in docs] == [
            rfc8785.dumps({"k": "\U0001f600", "\ufb01": 1}),
            b'{"f":2.5}',
        ]


plain_scalars = scalars_with(plain_text, int_bound=2**65)


class TestPlainInput:
    """Documents without escapes parse through orjson with the strict parser's results."""

    @settings(max_examples=300)
    @given(json_values(plain_text, plain_scalars))
    def test_value_and_canonical_match_the_reference(self, value: Any) -> None:
        """Any plain document, floats and big integers included, gives json's value and JCS bytes."""
        for text in (
            json.dumps(value, ensure_ascii=False, separators=(",", ":")),
            json.dumps(value, ensure_ascii=False, indent=1),
        ):
            try:
                expected = rfc8785.dumps(value)
            except ValueError:
                with pytest.raises(EventInvalid):
                    parse_document(text.encode(), name="v.json")
                continue
            doc = parse_document(text.encode(), name="v.json")
            assert doc.value == json.loads(text)
            assert doc.canonical == expected

    def test_a_plain_event_takes_the_fast_road(self) -> None:
        """A plain event parses without the strict parser; escapes, floats and astral text do not."""
        assert _fast_parse(b'{"b": [1, true, null], "a": "\xc3\xbc"}') == (
            {"b": [1, True, None], "a": "ü"},
            '{"a":"ü","b":[1,true,null]}'.encode(),
        )
        for declined in (b'{"a":"\\n"}', b'{"a":1.5}', '{"a":"\U0001f600"}'.encode(), b"[1]x"):
            assert _fast_parse(declined) is None

    @pytest.mark.parametrize(
        "text",
        [
            '{"a":1,"a":2}',
            '{"a" :1,"a":2}',
            '{"a":1, "a" : 2}',
            '{"x":{"k":"v:w"},"x" :{"k":"v"}}',
            '{"n":{"a":[{"b":1,\n"b"\t:2}]}}',
        ],
    )
    def test_duplicate_keys_are_refused_whatever_the_spacing(self, text: str) -> None:
        """A repeated member name is refused, with or without spaces before its colon."""
        with pytest.raises(MalformedInput, match="duplicate object key"):
            parse_document(text.encode(), name="e.json")

    def test_duplicate_key_in_one_batch_item_is_refused(self) -> None:
        """A repeated member name inside one array item fails the whole array."""
        with pytest.raises(MalformedInput, match="duplicate object key 'b'"):
            parse_events(b'[{"a":1},{"b":1, "b" :2}]', name="e.json")

    def test_big_integers_are_refused(self) -> None:
        """Integers beyond 2**53 - 1 are refused, however orjson would read them."""
        for literal in (2**53 + 1, 2**63, 2**64 + 1, -(2**63) - 1):
            with pytest.raises(EventInvalid, match="cannot be canonicalised"):
                parse_document(f'{{"n":{literal}}}'.encode(), name="e.json")

    def test_depth_limit_holds(self) -> None:
        """Nesting past MAX_DEPTH is refused; brackets inside strings do not count."""
        deep = "[" * MAX_DEPTH + "]" * MAX_DEPTH
        assert parse_document(deep.encode(), name="e.json").value is not None
        with pytest.raises(EventInvalid, match="nested more than"):
            parse_document(("[" + deep + "]").encode(), name="e.json")
        brackets = {"s": "[{" * 100}
        doc = parse_document(json.dumps(brackets).encode(), name="e.json")
        assert doc.canonical == rfc8785.dumps(brackets)

    def test_batch_items_are_positioned_and_canonical(self) -> None:
        """A plain array yields one document per item, positioned name[i], canonicalised."""
        docs = parse_events(b'[{"b":2,"a":1}, {"c":[3]}]', name="body")
        assert [(d.position, d.value, d.canonical) for d in docs] == [
            ("body[0]", {"b": 2, "a": 1}, b'{"a":1,"b":2}'),
            ("body[1]", {"c": [3]}, b'{"c":[3]}'),
        ]
