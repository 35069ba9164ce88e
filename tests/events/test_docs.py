"""Tests that docs/events.md documents every type, ref kind and convention key."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from flightlog.events import refs
from flightlog.events.envelope import parse_event_type
from flightlog.events.refs import REF_KINDS
from flightlog.events.validation import known_types
from tests.events.corpus import FIXTURE_FILES, ROOT, load

DOC = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")


class TestEventsDoc:
    """docs/events.md stays in step with the code."""

    @pytest.mark.parametrize("type_string", known_types())
    def test_type_listed(self, type_string: str) -> None:
        """Every supported type appears with its version."""
        parsed = parse_event_type(type_string)
        row = f"| `{parsed.name}` | `{parsed.version}` |"
        assert row in DOC or f"`{type_string}`" in DOC

    def test_ref_kinds_documented(self) -> None:
        """Every ref kind is named in the refs section."""
        section = DOC[DOC.index("## Refs") :]
        assert all(f"`{kind}`" in section for kind in REF_KINDS)

    def test_convention_keys_documented(self) -> None:
        """Every customData.flightlog key has a row in the convention table."""
        table = DOC[DOC.index("### The `customData.flightlog` convention") :]
        keys = [*refs._CONVENTION, *refs._TICKET_BEARING]
        missing = [k for k in keys if not re.search(rf"\| [^\n]*`{k}`[^\n]*\|", table)]
        assert missing == []

    @pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
    def test_example_shown(self, path: Path) -> None:
        """Each custom type's example in the doc is its validated fixture."""
        assert json.dumps(load(path), indent=2) in DOC
