"""Distinct valid ``service.deployed`` CDEvents, as JSON bytes or already prepared for the ledger.

Preparing a million events through the full parser costs minutes, so logs built only to
be measured use :func:`prepare_known_valid`: the same functions ``Flightlog.prepare``
calls (schema validation, ref extraction, canonical bytes), minus re-parsing.
:func:`check_prepared` compares a sample with ``Flightlog.prepare`` so the shortcut
cannot drift from what the service stores.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from flightlog.events.canonical import ParsedDocument, canonical_bytes
from flightlog.service import Flightlog, PreparedEvent, prepare_event

SOURCE = "/ci/pipeline"


_EPOCH = datetime(2026, 11, 1, tzinfo=UTC)


def _timestamp(n: int) -> str:
    """Event ``n``'s time: one second after event ``n - 1``, as a ledger receives events in
    time order (times out of order would cost every time index random inserts)."""
    return (_EPOCH + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")


def service_deployed(n: int, *, run: str = "bench", service: str = "payments") -> dict[str, Any]:
    """A ``service.deployed`` event, unique by ``run`` and ``n``."""
    return {
        "context": {
            "specversion": "0.5.1",
            "id": f"{run}-{n}",
            "source": SOURCE,
            "type": "dev.cdevents.service.deployed.0.3.0",
            "timestamp": _timestamp(n),
        },
        "subject": {
            "id": service,
            "source": SOURCE,
            "content": {
                "environment": {"id": ("prod", "staging", "dev")[n % 3]},
                "artifactId": f"pkg:oci/{service}@sha256%3A{n:064x}",
            },
        },
    }


def events(start: int, count: int, *, run: str = "bench") -> list[dict[str, Any]]:
    """``count`` distinct events numbered from ``start``."""
    return [service_deployed(n, run=run) for n in range(start, start + count)]


def json_array(batch: Sequence[dict[str, Any]]) -> bytes:
    """A JSON array of events, as the batch endpoint takes it."""
    return json.dumps(batch, separators=(",", ":")).encode()


def jsonl(batch: Sequence[dict[str, Any]]) -> bytes:
    """JSON Lines bytes of events, as ``flightlog record`` reads them."""
    return b"".join(json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in batch)


def prepare_known_valid(batch: Sequence[dict[str, Any]], *, name: str) -> list[PreparedEvent]:
    """Prepare events already known to be float-free JSON values (no re-parse)."""
    return [
        prepare_event(
            ParsedDocument(
                value=event,
                canonical=canonical_bytes(event, float_free=True),
                position=f"{name}:{i + 1}",
            )
        )
        for i, event in enumerate(batch)
    ]


def check_prepared(service: Flightlog, batch: Sequence[dict[str, Any]]) -> None:
    """Raise AssertionError unless :func:`prepare_known_valid` matches ``Flightlog.prepare``."""
    fast = prepare_known_valid(batch, name="check")
    for event, got in zip(batch, fast, strict=True):
        want = service.prepare(event, position=got.position)
        if replace(got, event=want.event) != want:
            raise AssertionError(f"prepared event differs from Flightlog.prepare: {got.id}")
