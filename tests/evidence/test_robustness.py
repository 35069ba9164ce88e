"""Any input, however odd, either parses or fails with one domain error; never a crash."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flightlog.errors import InputError
from flightlog.evidence import format_names, parse_report
from tests.paths import corpus_file

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
# Keys the parsers look for, so generated documents reach deep into each format.
KEYS = st.sampled_from(
    [
        "version", "runs", "tool", "driver", "name", "rules", "results", "ruleId", "ruleIndex",
        "level", "properties", "security-severity", "locations", "bomFormat", "metadata",
        "components", "vulnerabilities", "ratings", "affects", "ref", "SchemaVersion",
        "ArtifactName", "Results", "Vulnerabilities", "matches", "descriptor", "vulnerability",
        "artifact", "source", "target", "fix",
    ]
)  # fmt: skip
SHAPED = st.recursive(
    st.none() | st.integers() | st.text(max_size=6) | st.sampled_from(["2.1.0", "CycloneDX", 2]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=30,
)


def _outcome(data: bytes, fmt: str | None) -> None:
    """Parse ``data``; a refusal must be an InputError naming the report."""
    problem = ""
    try:
        parse_report(data, name="r", format=fmt)
    except InputError as exc:
        problem = str(exc)
    assert not problem or problem.startswith("r: ")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=SHAPED, fmt=st.sampled_from([None, *format_names()]))
def test_shaped_json(value: Any, fmt: str | None) -> None:
    """Documents built from the formats' own keys never crash a parser."""
    _outcome(json.dumps(value).encode(), fmt)


@settings(max_examples=200, deadline=None)
@given(value=JSON, fmt=st.sampled_from([None, *format_names()]))
def test_any_json(value: Any, fmt: str | None) -> None:
    """Arbitrary JSON never crashes a parser."""
    _outcome(json.dumps(value).encode(), fmt)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200))
def test_any_bytes(data: bytes) -> None:
    """Arbitrary bytes never crash format detection."""
    _outcome(data, None)


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(min_value=0, max_value=5356), junk=st.binary(max_size=20))
def test_mangled_junit(cut: int, junk: bytes) -> None:
    """A JUnit report cut anywhere and followed by junk parses or fails cleanly."""
    data = corpus_file("junit/jest-junit.xml").read_bytes()
    _outcome(data[:cut] + junk, "junit")
