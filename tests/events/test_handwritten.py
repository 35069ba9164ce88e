"""The hand-writable examples of docs/events.md validate and match their field tables."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from flightlog.events.refs import convention_warnings, extract_refs
from flightlog.events.validation import validate_event
from tests.events.corpus import ROOT

DOC = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
SECTION = DOC[DOC.index("## Writing events by hand") : DOC.index("## Input formats")]
TYPES = [
    "dev.cdevents.service.deployed.0.3.0",
    "dev.cdevents.build.finished.0.3.0",
    "dev.cdevents.testsuiterun.finished.0.3.0",
    "dev.cdevents.change.merged.0.3.0",
    "dev.cdevents.incident.detected.0.3.0",
]


def _subsections() -> dict[str, str]:
    """Each example subsection's text by the event type in its heading."""
    parts = re.split(r"^### .*\(`([^`]+)`\)$", SECTION, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _example(text: str) -> dict[str, Any]:
    [block] = re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL)
    event: dict[str, Any] = json.loads(block)
    return event


def _at(event: dict[str, Any], path: str) -> object:
    value: Any = event
    for key in path.split("."):
        assert isinstance(value, dict) and key in value, path
        value = value[key]
    return value


class TestHandWrittenExamples:
    """docs/events.md, "Writing events by hand"."""

    def test_the_five_common_types_are_shown(self) -> None:
        """Service deployed, build finished, test suite run finished, change merged, incident."""
        assert list(_subsections()) == TYPES

    @pytest.mark.parametrize("type_string", TYPES)
    def test_example_validates_without_warnings(self, type_string: str) -> None:
        """The example is a valid event of its type with no ignored customData keys."""
        event = _example(_subsections()[type_string])
        header = validate_event(event)
        assert header.type == type_string
        assert convention_warnings(event) == []
        assert extract_refs(event)

    @pytest.mark.parametrize("type_string", TYPES)
    def test_required_fields_are_in_the_example(self, type_string: str) -> None:
        """Every field the table marks required is present in the example."""
        text = _subsections()[type_string]
        required = re.findall(r"^\| `([^`]+)` \| yes \|", text, flags=re.MULTILINE)
        assert required
        event = _example(text)
        for path in required:
            _at(event, path)
