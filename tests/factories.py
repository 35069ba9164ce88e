"""Valid CDEvents built in code, for tests that need many distinct events."""

from __future__ import annotations

import json
from typing import Any


def service_deployed(
    n: int,
    *,
    service: str = "payments",
    env: str = "prod",
    source: str = "/ci/pipeline",
    version: str | None = None,
) -> dict[str, Any]:
    """A ``service.deployed`` event, unique by ``n``."""
    return {
        "context": {
            "specversion": "0.5.1",
            "id": f"evt-{n}",
            "source": source,
            "type": "dev.cdevents.service.deployed.0.3.0",
            "timestamp": f"2026-11-{1 + n % 28:02d}T12:{n % 60:02d}:00Z",
        },
        "subject": {
            "id": service,
            "source": source,
            "content": {
                "environment": {"id": env},
                "artifactId": f"pkg:oci/{service}@sha256%3A{n:064x}"
                if version is None
                else f"pkg:oci/{service}@{version}",
            },
        },
    }


def jsonl(events: list[dict[str, Any]]) -> bytes:
    """JSON Lines bytes of ``events``."""
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)
