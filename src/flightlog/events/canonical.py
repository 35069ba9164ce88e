"""Parsing of event input and its RFC 8785 (JCS) canonical bytes.

The ledger commits to canonical bytes, so every document is parsed once here and its
canonical form computed from the parsed value. ``rfc8785`` is the reference encoder;
``json.dumps`` with sorted keys produces the same bytes, several times faster, for
documents without floats, without integers outside the IEEE 754 safe range and without
characters outside the Basic Multilingual Plane. The parser records whether it saw
floats or long integers so the fast encoder is only tried where it can succeed, and its
output is checked so that a wrong hint costs time, never correctness.

Most events take a faster road still: :func:`_fast_parse` parses them with orjson and
takes orjson's sorted output as their canonical bytes, but only where that output is
provably the RFC 8785 form and the parse provably the one the strict parser would
make: no backslash in the input (so no escapes, no lone surrogates, no quote or control
character inside a string), no character outside the Basic Multilingual Plane, no
float and no integer beyond 15 digits in the output, and as many object members in the
output as member names in the input (so no duplicate key was dropped). Anything else,
including every malformed input, goes through the strict parser, which gives the
error messages.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import Any

import orjson
import rfc8785

from flightlog.errors import EventInvalid, InputTooLarge, MalformedInput

__all__ = ["MAX_DEPTH", "ParsedDocument", "canonical_bytes", "parse_document", "parse_events"]

MAX_DEPTH = 64
"""The deepest nesting of arrays and objects an event may have (the envelope counts).

One limit for every intake path and body size: whatever is accepted can be read back,
rendered and re-canonicalised without hitting any recursion limit.
"""

# RFC 8785 §3.2.2.3: JSON numbers are IEEE 754 doubles; integers beyond this lose precision.
_SAFE_INT = 2**53 - 1
# Beyond 16 digits an integer literal may exceed the safe range; shorter ones never do.
_SAFE_INT_DIGITS = 16
# RFC 8785 §3.2.3 sorts keys by UTF-16 code units, which differs from code point order
# only when a key holds a character above U+FFFF.
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# A number token in json.dumps output that is a float (has "." or an exponent) or an
# integer of 16+ digits (possibly beyond 2**53-1): either needs the reference encoder.
# Matches inside strings only cost a fallback, never a wrong result.
# Split in two so the search starts from a character set the engine scans for quickly.
_UNSAFE_NUMBER = re.compile(r"[:\[,]-?(?:[0-9]+[.eE]|[0-9]{16})")
_UNSAFE_LEADING_NUMBER = re.compile(r"-?(?:[0-9]+[.eE]|[0-9]{16})")
_BOM = "\ufeff"
# Lead bytes of 4-byte UTF-8 sequences (characters above U+FFFF), and bytes never valid.
_ASTRAL_LEAD = re.compile(rb"[\xf0-\xff]")
# Outside strings, a float (orjson writes "." or an exponent) or a 16+ digit integer.
_UNSAFE_NUMBER_TOKEN = re.compile(rb"[0-9][.eE]|[0-9]{16}")
_SORTED = orjson.OPT_SORT_KEYS


@dataclass(frozen=True)
class ParsedDocument:
    """One parsed JSON document, its canonical bytes and where it came from."""

    value: Any
    canonical: bytes
    position: str


def _fast_bytes(obj: Any, *, check_numbers: bool) -> bytes | None:
    """Return ``json.dumps`` bytes of ``obj`` if they are its JCS bytes, else None."""
    # ``obj`` is a JSON value as json.loads returns it: string keys only (json.dumps would
    # quietly stringify other keys where rfc8785 refuses them).
    try:
        text = json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError):
        return None
    if check_numbers and (
        _UNSAFE_LEADING_NUMBER.match(text) is not None or _UNSAFE_NUMBER.search(text) is not None
    ):
        return None
    if not text.isascii() and _ASTRAL.search(text) is not None:
        return None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate; the reference encoder says so
        return None


def _reference_bytes(obj: Any) -> bytes:
    """Return the JCS bytes of ``obj`` from the reference encoder, as domain errors."""
    try:
        return rfc8785.dumps(obj)
    except UnicodeEncodeError as exc:
        # rfc8785 sorts keys by their UTF-16 form, which a lone surrogate does not have.
        raise EventInvalid("cannot be canonicalised (RFC 8785): lone surrogate in a key") from exc
    except (ValueError, TypeError, RecursionError) as exc:
        raise EventInvalid(f"cannot be canonicalised (RFC 8785): {exc}") from exc


def canonical_bytes(obj: Any, *, float_free: bool = False, exact_numbers: bool = False) -> bytes:
    """Return the RFC 8785 canonical bytes of ``obj``.

    ``float_free``: try the fast encoder, after a search of its output for a float or a
    big integer. ``exact_numbers``: the caller knows every number in ``obj`` is an exact
    integer below 2**53 (see :func:`flightlog.sources.webhook.json_payload`), so the fast
    encoder's output needs no such search.
    """
    if float_free or exact_numbers:
        fast = _fast_bytes(obj, check_numbers=not exact_numbers)
        if fast is not None:
            return fast
    return _reference_bytes(obj)


@dataclass
class _Scan:
    """What the parser saw that rules out the fast canonical encoder."""

    floats: bool = False
    big_ints: bool = False


class _Parser(threading.local):
    """One JSON decoder per thread whose hooks record what they see into ``scan``.

    Building a decoder costs more than parsing a small event, so each thread keeps one
    and resets its state per document.
    """

    def __init__(self) -> None:
        self.scan = _Scan()
        self.position = ""
        self.decoder = json.JSONDecoder(
            parse_float=self._parse_float,
            parse_int=self._parse_int,
            parse_constant=self._parse_constant,
            object_pairs_hook=self._unique_keys,
        )

    def _parse_float(self, literal: str) -> float:
        self.scan.floats = True
        return float(literal)

    def _parse_int(self, literal: str) -> int:
        digits = len(literal) - (literal[0] == "-")
        if digits >= _SAFE_INT_DIGITS:
            value = int(literal)
            if abs(value) > _SAFE_INT:
                self.scan.big_ints = True
            return value
        return int(literal)

    def _parse_constant(self, literal: str) -> Any:
        raise MalformedInput(f"{self.position}: {literal} is not a JSON value (RFC 8259 §6)")

    def _unique_keys(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    # RFC 8785 §3.1 requires I-JSON (RFC 7493 §2.3): names must be unique.
                    raise MalformedInput(f"{self.position}: duplicate object key {key!r}")
                seen.add(key)
        return obj

    def decode(self, text: str, position: str) -> tuple[Any, _Scan]:
        """Parse one document; return its value and what the parser saw."""
        self.scan = scan = _Scan()
        self.position = position
        return self.decoder.decode(text), scan


_PARSER = _Parser()


def _text(data: bytes | str, name: str) -> str:
    """Decode ``data`` as UTF-8 (RFC 8259 §8.1), dropping a leading byte order mark."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedInput(
                f"{name}: invalid UTF-8 at byte {exc.start}: {exc.reason}"
            ) from exc
    else:
        text = data
    return text.removeprefix(_BOM)


def _load(text: str, *, name: str, position: str, first_line: int = 1) -> tuple[Any, _Scan]:
    """Parse one JSON document, naming line and column of a syntax error."""
    try:
        value, scan = _PARSER.decode(text, position)
    except json.JSONDecodeError as exc:
        line = exc.lineno + first_line - 1
        raise MalformedInput(f"{name}: line {line}, column {exc.colno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise _too_deep(position) from exc
    except ValueError as exc:
        # int() refuses literals over sys.get_int_max_str_digits() digits.
        raise EventInvalid(f"number out of range: {exc}", position=position) from exc
    return value, scan


def _too_deep(position: str) -> EventInvalid:
    return EventInvalid(
        f"arrays and objects are nested more than {MAX_DEPTH} levels deep", position=position
    )


def nesting_depth(value: Any, stop: int = MAX_DEPTH + 1) -> int:
    """How deeply arrays and objects nest in ``value`` (a scalar is 0), counted up to ``stop``."""
    # Level by level, not recursively: the check must not hit the limit it enforces.
    depth = 0
    level = [value] if isinstance(value, (dict, list)) else []
    while level and depth < stop:
        depth += 1
        below: list[Any] = []
        for item in level:
            children = item.values() if isinstance(item, dict) else item
            below.extend(c for c in children if isinstance(c, (dict, list)))
        level = below
    return depth


def check_depth(value: Any, position: str) -> None:
    """Raise EventInvalid when ``value`` nests deeper than :data:`MAX_DEPTH`."""
    if nesting_depth(value) > MAX_DEPTH:
        raise _too_deep(position)


def _document(value: Any, scan: _Scan, position: str) -> ParsedDocument:
    """Build a ParsedDocument, choosing the canonical encoder from what the parser saw."""
    check_depth(value, position)
    # The parser saw every number, so the fast encoder need not look for them again.
    canonical = None if scan.floats or scan.big_ints else _fast_bytes(value, check_numbers=False)
    if canonical is None:
        try:
            canonical = _reference_bytes(value)
        except EventInvalid as exc:
            raise exc.at(position) from exc
    return ParsedDocument(value=value, canonical=canonical, position=position)


def _plain_bytes(data: bytes | str) -> bytes | None:
    """``data`` as UTF-8 if it has no backslash and no character above U+FFFF, else None."""
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError:
            return None
    if b"\\" in data or (not data.isascii() and _ASTRAL_LEAD.search(data) is not None):
        return None
    return data


def _structure(plain: bytes) -> bytes:
    """The bytes of ``plain`` outside its strings (``plain`` holds no backslash)."""
    # Without escapes every '"' opens or closes a string: the even pieces are outside.
    return b"".join(plain.split(b'"')[::2])


def _plain_canonical(value: Any) -> tuple[bytes, int] | None:
    """orjson's sorted bytes of a value parsed from plain input, if they are its JCS bytes.

    Returned with the number of object members they hold.
    """
    try:
        out = orjson.dumps(value, option=_SORTED)
    except orjson.JSONEncodeError:
        return None
    structure = _structure(out)
    if _UNSAFE_NUMBER_TOKEN.search(structure) is not None:
        return None
    # Containers counted bound the depth: within the limit, no walk is needed.
    if (
        structure.count(b"{") + structure.count(b"[") > MAX_DEPTH
        and nesting_depth(value) > MAX_DEPTH
    ):
        return None
    return out, structure.count(b":")


def _plain_load(data: bytes | str) -> tuple[Any, int] | None:
    """orjson's value of plain input and the member names it spells, else None."""
    plain = _plain_bytes(data)
    if plain is None:
        return None
    try:
        value = orjson.loads(plain)
    except orjson.JSONDecodeError:
        return None
    # Outside strings, a ':' separates a member name from its value.
    return value, _structure(plain).count(b":")


def _fast_parse(data: bytes | str) -> tuple[Any, bytes] | None:
    """The value and canonical bytes of a plain, valid document, else None (see the top)."""
    loaded = _plain_load(data)
    if loaded is None:
        return None
    value, names = loaded
    canonical = _plain_canonical(value)
    # Fewer members than names: orjson kept only the last of a duplicate key.
    if canonical is None or canonical[1] != names:
        return None
    return value, canonical[0]


def _fast_events(
    data: bytes | str, name: str, max_events: int | None
) -> list[ParsedDocument] | None:
    """:func:`parse_events` of a plain object or array of objects, else None."""
    loaded = _plain_load(data)
    if loaded is None:
        return None
    value, names = loaded
    items = [value] if isinstance(value, dict) else value if isinstance(value, list) else []
    if not items or (max_events is not None and len(items) > max_events):
        return None
    docs = []
    members = 0
    for i, item in enumerate(items):
        canonical = _plain_canonical(item) if isinstance(item, dict) else None
        if canonical is None:
            return None
        members += canonical[1]
        position = name if item is value else f"{name}[{i}]"
        docs.append(ParsedDocument(value=item, canonical=canonical[0], position=position))
    return docs if members == names else None


def parse_document(data: bytes | str, *, name: str) -> ParsedDocument:
    """Parse one JSON document and compute its canonical bytes."""
    fast = _fast_parse(data)
    if fast is not None:
        return ParsedDocument(value=fast[0], canonical=fast[1], position=name)
    text = _text(data, name)
    if not text.strip():
        raise MalformedInput(f"{name}: empty input")
    value, scan = _load(text, name=name, position=name)
    return _document(value, scan, name)


def _require_object(doc: ParsedDocument) -> ParsedDocument:
    """Return ``doc`` if it holds a JSON object, else raise EventInvalid at its position."""
    if not isinstance(doc.value, dict):
        raise EventInvalid(
            f"expected a JSON object, got {_json_kind(doc.value)}", position=doc.position
        )
    return doc


def _json_kind(value: Any) -> str:
    """Name the JSON type of a parsed value."""
    match value:
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case dict():
            return "an object"
        case _:
            return "null"


def _check_count(count: int, max_events: int | None, name: str) -> None:
    """Raise InputTooLarge when ``count`` events exceed ``max_events``."""
    if max_events is not None and count > max_events:
        raise InputTooLarge(f"{name}: {count} events exceed the limit of {max_events} per request")


def _parse_array(text: str, name: str, max_events: int | None) -> list[ParsedDocument]:
    """Parse a JSON array of event objects; positions are ``name[i]``."""
    value, scan = _load(text, name=name, position=name)
    if not isinstance(value, list):
        raise EventInvalid(f"expected a JSON array, got {_json_kind(value)}", position=name)
    _check_count(len(value), max_events, name)
    fast = not (scan.floats or scan.big_ints)
    docs = []
    for i, item in enumerate(value):
        position = f"{name}[{i}]"
        if not isinstance(item, dict):
            raise EventInvalid(f"expected a JSON object, got {_json_kind(item)}", position=position)
        docs.append(_document(item, _Scan(floats=not fast), position))
    return docs


def _parse_lines(text: str, name: str, max_events: int | None) -> list[ParsedDocument]:
    """Parse JSON Lines: one event object per non-blank line; positions are ``name:LINE``."""
    # Split on "\n" only: U+2028 and friends may legally appear inside JSON strings.
    lines = [(n, line) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
    _check_count(len(lines), max_events, name)
    docs = []
    for number, line in lines:
        position = f"{name}:{number}"
        value, scan = _load(line, name=name, position=position, first_line=number)
        docs.append(_require_object(_document(value, scan, position)))
    return docs


def parse_events(
    data: bytes | str, *, name: str, max_events: int | None = None
) -> list[ParsedDocument]:
    """Parse one event object, a JSON array of objects or JSON Lines into canonical documents."""
    fast = _fast_events(data, name, max_events)
    if fast is not None:
        return fast
    text = _text(data, name)
    stripped = text.lstrip()
    if not stripped:
        raise MalformedInput(f"{name}: empty input")
    if stripped.startswith("["):
        return _parse_array(text, name, max_events)
    try:
        value, scan = _load(text, name=name, position=name)
    except MalformedInput as exc:
        if isinstance(exc.__cause__, json.JSONDecodeError) and exc.__cause__.msg == "Extra data":
            return _parse_lines(text, name, max_events)
        raise
    _check_count(1, max_events, name)
    return [_require_object(_document(value, scan, name))]
