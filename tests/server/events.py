"""Event builders for the server tests: valid CDEvents and their CloudEvents envelopes."""

from __future__ import annotations

import copy
from typing import Any

DEPLOYED = "dev.cdevents.service.deployed.0.3.0"
ARTIFACT = (
    "pkg:oci/payments@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427"
)
TIMESTAMP = "2026-03-02T09:15:00.123456Z"


def deployed(
    n: int,
    *,
    service: str = "payments",
    env: str = "production",
    source: str = "https://ci.example.com/acme/payments",
) -> dict[str, Any]:
    """A valid ``service.deployed`` CDEvent whose id is unique per ``n``."""
    return {
        "context": {
            "specversion": "0.5.1",
            "id": f"deploy-{n}",
            "source": source,
            "type": DEPLOYED,
            "timestamp": TIMESTAMP,
        },
        "subject": {
            "id": service,
            "source": source,
            "content": {"environment": {"id": env}, "artifactId": ARTIFACT},
        },
    }


def structured(event: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """The CloudEvents 1.0 structured-mode envelope of ``event`` (attributes overridable)."""
    ctx = event["context"]
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": ctx["id"],
        "source": ctx["source"],
        "type": ctx["type"],
        "time": ctx["timestamp"],
        "subject": event["subject"]["id"],
        "datacontenttype": "application/json",
        "data": copy.deepcopy(event),
    }
    envelope.update(overrides)
    return envelope


def binary_headers(event: dict[str, Any], **overrides: str) -> dict[str, str]:
    """The ``ce-*`` headers of ``event`` in CloudEvents HTTP binary mode."""
    ctx = event["context"]
    headers = {
        "ce-specversion": "1.0",
        "ce-id": ctx["id"],
        "ce-source": ctx["source"],
        "ce-type": ctx["type"],
        "ce-time": ctx["timestamp"],
        "content-type": "application/json",
    }
    headers.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return headers
