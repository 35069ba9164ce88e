"""Events: parsing, canonical JSON, CDEvents v0.5.1 validation and ref extraction (pure).

The names below are loaded on first use (PEP 562): parsing alone, as the CLI does
before sending events to a server, must not pay for loading the JSON Schema validator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flightlog.events.canonical import (
        ParsedDocument,
        canonical_bytes,
        parse_document,
        parse_events,
    )
    from flightlog.events.envelope import (
        ERASURE_TYPE,
        EventHeader,
        EventType,
        parse_event_type,
    )
    from flightlog.events.refs import REF_KINDS, Ref, extract_refs, find_tickets
    from flightlog.events.validation import known_types, validate_event

_HOMES = {
    "ParsedDocument": "canonical",
    "canonical_bytes": "canonical",
    "parse_document": "canonical",
    "parse_events": "canonical",
    "ERASURE_TYPE": "envelope",
    "EventHeader": "envelope",
    "EventType": "envelope",
    "parse_event_type": "envelope",
    "REF_KINDS": "refs",
    "Ref": "refs",
    "extract_refs": "refs",
    "find_tickets": "refs",
    "known_types": "validation",
    "validate_event": "validation",
}

__all__ = [
    "ERASURE_TYPE",
    "REF_KINDS",
    "EventHeader",
    "EventType",
    "ParsedDocument",
    "Ref",
    "canonical_bytes",
    "extract_refs",
    "find_tickets",
    "known_types",
    "parse_document",
    "parse_event_type",
    "parse_events",
    "validate_event",
]


def __getattr__(name: str) -> Any:
    """Load ``name`` from the submodule that defines it."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
