"""Ref extraction yields exactly the pinned refs for every known event and its variants."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flightlog.events.refs import extract_refs
from tests.events.pinned_refs import PINNED, events, variants_digest

PINS: dict[str, dict[str, Any]] = json.loads(PINNED.read_text(encoding="utf-8"))
EVENTS = dict(events())


def test_every_event_is_pinned() -> None:
    """The pin file covers exactly the events the corpus, demo and benchmark hold today."""
    assert sorted(EVENTS) == sorted(PINS)


@pytest.mark.parametrize("label", sorted(PINS))
def test_refs_are_pinned(label: str) -> None:
    """An event's refs are the pinned ones, and so are its variants' (by digest)."""
    event = EVENTS[label]
    assert [list(ref) for ref in extract_refs(event)] == PINS[label]["refs"]
    assert variants_digest(event) == PINS[label]["variants"]
