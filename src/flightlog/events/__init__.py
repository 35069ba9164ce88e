"""Events: parsing, canonical JSON, CDEvents v0.5.1 validation and ref extraction (pure)."""

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
