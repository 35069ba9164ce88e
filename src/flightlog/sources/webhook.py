"""What every forge webhook shares: the delivery, signatures, and the events built from it.

A forge module (``github``, ``gitlab``) verifies a delivery and maps its payload to
:class:`Derived` facts; :func:`delivery_events` wraps them into CDEvents envelopes with
deterministic ids (delivery id + position), each carrying the delivery id and the
SHA-256 of the raw body, behind one ``dev.cdeventsx.flightlog-webhook.received`` event
that is recorded for every delivery, mapped or not.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flightlog.errors import InputError, MalformedInput, SignatureError
from flightlog.events.envelope import parse_timestamp
from flightlog.sources.config import SourceConfig, Ticket
from flightlog.timestamps import format_timestamp

__all__ = [
    "DELIVERY_TYPE",
    "STANDARD_WEBHOOK_TOLERANCE",
    "Accepted",
    "Delivery",
    "Derived",
    "TicketFinder",
    "WebhookSource",
    "delivery_events",
    "hmac_sha256_hex",
    "json_payload",
    "same_secret",
    "verify_standard_webhook",
]

DELIVERY_TYPE = "dev.cdeventsx.flightlog-webhook.received.0.1.0"
CHANGE_CREATED = "dev.cdevents.change.created.0.4.0"
CHANGE_UPDATED = "dev.cdevents.change.updated.0.3.0"
CHANGE_REVIEWED = "dev.cdevents.change.reviewed.0.3.0"
CHANGE_MERGED = "dev.cdevents.change.merged.0.3.0"
CHANGE_ABANDONED = "dev.cdevents.change.abandoned.0.3.0"
BRANCH_CREATED = "dev.cdevents.branch.created.0.3.0"
BRANCH_DELETED = "dev.cdevents.branch.deleted.0.3.0"
PIPELINE_QUEUED = "dev.cdevents.pipelinerun.queued.0.3.0"
PIPELINE_STARTED = "dev.cdevents.pipelinerun.started.0.3.0"
PIPELINE_FINISHED = "dev.cdevents.pipelinerun.finished.0.3.0"
TASK_STARTED = "dev.cdevents.taskrun.started.0.3.0"
TASK_FINISHED = "dev.cdevents.taskrun.finished.0.3.0"
SERVICE_DEPLOYED = "dev.cdevents.service.deployed.0.3.0"
ARTIFACT_PUBLISHED = "dev.cdevents.artifact.published.0.3.0"
COMMIT_PUSHED = "dev.cdeventsx.flightlog-commit.pushed.0.1.0"
TAG_CREATED = "dev.cdeventsx.flightlog-tag.created.0.1.0"
TAG_DELETED = "dev.cdeventsx.flightlog-tag.deleted.0.1.0"
TASK_QUEUED = "dev.cdeventsx.flightlog-taskrun.queued.0.1.0"
DEPLOYMENT_UPDATED = "dev.cdeventsx.flightlog-deployment.updated.0.1.0"
SPEC_VERSION = "0.5.1"
STANDARD_WEBHOOK_TOLERANCE = 5 * 60
"""Standard Webhooks: timestamps further than this many seconds from now are refused."""
STANDARD_WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
# RFC 8785 §3.2.2.3: numbers are IEEE 754 doubles; integers beyond this lose precision, and
# an integer literal of fewer digits never is one.
_SAFE_INT = 2**53 - 1
_SAFE_INT_DIGITS = 16
# RFC 8785 §3.2.3 sorts keys by UTF-16 code units: code point order differs from it only
# for characters beyond U+FFFF.


@dataclass(frozen=True)
class Delivery:
    """One verified webhook delivery: who sent it, what, and the digest of its exact bytes."""

    forge: str
    event: str
    delivery_id: str
    body_sha256: str
    body_bytes: int
    headers: Mapping[str, str]
    received_at: str
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Derived:
    """One fact a payload states, before it gets its envelope.

    ``refs`` is the ``customData.flightlog`` declaration (repo, commit, tickets, systems …);
    ``details`` what the forge said that the CDEvents content has no field for.
    """

    type: str
    subject_id: str
    content: Mapping[str, Any]
    timestamp: str | None = None
    refs: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    links: Sequence[Mapping[str, str]] = ()


@dataclass(frozen=True)
class Accepted:
    """A verified, parsed delivery: who sent what, ready to map."""

    forge: str
    event: str
    kind: str
    delivery_id: str
    payload: Mapping[str, Any]
    headers: dict[str, str]
    body: bytes
    exact_numbers: bool = False
    """Every number in ``payload`` is an integer within ±(2**53 - 1) (see :func:`json_payload`)."""


class WebhookSource(ABC):
    """A forge: one module defining ``SOURCE``, an instance of a subclass of this.

    Headers are passed with lower-case names. The server calls :meth:`verify`, then
    :meth:`accept`, then :meth:`derive`; nothing in it names a forge.
    """

    name: str
    title: str
    summary: str
    media_types: Sequence[str] = ("application/json",)
    secret_headers: Sequence[str] = ()
    events_to_tick: Sequence[str] = ()
    probe_events: Sequence[str] = ()
    """Events that only test the hook (answered 200 even when new; recorded all the same)."""

    @abstractmethod
    def verify(self, headers: Mapping[str, str], body: bytes, secret: str | None) -> None:
        """Raise SignatureError unless the delivery is signed with ``secret``."""

    @abstractmethod
    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        """The id a redelivery repeats (the dedup key), None if the headers carry none."""

    @abstractmethod
    def accept(self, headers: Mapping[str, str], body: bytes) -> Accepted:
        """Check the event header, the delivery id and the payload's shape (InputError)."""

    @abstractmethod
    def derive(
        self, accepted: Accepted, config: SourceConfig
    ) -> tuple[dict[str, Any], list[Derived]]:
        """The delivery event's refs and the facts its payload states (pure)."""

    @abstractmethod
    def setup_text(self, url: str, secret: str) -> list[str]:
        """What to type into the forge's webhook settings."""

    def to_events(self, headers: Mapping[str, str], body: bytes) -> list[Mapping[str, Any]]:
        """The delivery event and the events derived from it (default ``flightlog.toml``)."""
        accepted = self.accept(headers, body)
        refs, derived = self.derive(accepted, SourceConfig())
        delivery = delivery_of(accepted, utc_from_epoch(time.time()))
        return list(delivery_events(delivery, derived, action=action_of(accepted), refs=refs))


def json_object(body: bytes) -> Mapping[str, Any]:
    """The delivery body as a JSON object, MalformedInput otherwise."""
    return json_payload(body)[0]


def json_payload(body: bytes) -> tuple[Mapping[str, Any], bool]:
    """The delivery body as a JSON object, and whether its numbers are all exact integers.

    A float, an integer beyond ±(2**53 - 1) or a NaN/Infinity literal anywhere in the body
    makes the second value False; True lets ``canonical_bytes(..., exact_numbers=True)``
    write the events built from it without searching them for unsafe numbers.
    """
    exact = True

    def inexact_float(literal: str) -> float:
        nonlocal exact
        exact = False
        return float(literal)

    def checked_int(literal: str) -> int:
        nonlocal exact
        value = int(literal)
        if len(literal) >= _SAFE_INT_DIGITS and abs(value) > _SAFE_INT:
            exact = False
        return value

    def constant(literal: str) -> float:
        nonlocal exact
        exact = False
        return float(literal)

    try:
        payload = json.loads(
            body, parse_float=inexact_float, parse_int=checked_int, parse_constant=constant
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedInput(f"the delivery body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise MalformedInput("the delivery body must be a JSON object")
    return payload, exact


def header_value(headers: Mapping[str, str], name: str, shown: str) -> str:
    """A required header's value, InputError when missing or implausible."""
    value = headers.get(name, "").strip()
    if not value:
        raise InputError(f"missing {shown} header")
    return plausible_id(value, f"{shown} header")


def plausible_id(value: str, what: str) -> str:
    """``value`` if it is short printable text, InputError naming ``what`` otherwise."""
    if len(value) > 200 or not value.isprintable():
        raise InputError(f"{what} is not a plausible value")
    return value


def delivery_of(accepted: Accepted, received_at: str) -> Delivery:
    """The delivery record of an accepted request."""
    return Delivery(
        forge=accepted.forge,
        event=accepted.event,
        delivery_id=accepted.delivery_id,
        body_sha256=body_digest(accepted.body),
        body_bytes=len(accepted.body),
        headers=accepted.headers,
        received_at=received_at,
        payload=accepted.payload,
    )


def action_of(accepted: Accepted) -> str | None:
    """The payload's ``action`` (opened, completed …), if it names one."""
    action = accepted.payload.get("action")
    return action if isinstance(action, str) and action else None


def hmac_sha256_hex(secret: bytes, body: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of ``body`` under ``secret``."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def same_secret(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a shared token with the one a request presents."""
    if given is None:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def _standard_key(secret: str) -> bytes:
    # Standard Webhooks secrets are "whsec_" + base64 of the key; a bare secret is the key.
    if secret.startswith(STANDARD_WEBHOOK_SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(STANDARD_WEBHOOK_SECRET_PREFIX) :], validate=True)
        except binascii.Error:
            raise SignatureError("the configured Standard Webhooks secret is not base64") from None
    return secret.encode("utf-8")


def verify_standard_webhook(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: float
) -> str:
    """Check ``webhook-id/-timestamp/-signature`` (Standard Webhooks v1); return the message id."""
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not msg_id or not stamp or not signatures:
        raise SignatureError(
            "a Standard Webhooks delivery needs webhook-id, webhook-timestamp and "
            "webhook-signature headers"
        )
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise SignatureError(f"webhook-timestamp {stamp[:20]!r} is not a Unix time in seconds")
    if abs(now - int(stamp)) > STANDARD_WEBHOOK_TOLERANCE:
        raise SignatureError(
            "webhook-timestamp is more than 5 minutes from the server's clock; "
            "a replayed or delayed delivery is refused"
        )
    signed = msg_id.encode("utf-8") + b"." + stamp.encode("ascii") + b"." + body
    expected = base64.b64encode(hmac.new(_standard_key(secret), signed, hashlib.sha256).digest())
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(expected, value.encode("ascii", "replace")):
            return msg_id
    raise SignatureError("webhook-signature does not match the body")


def utc_from_epoch(seconds: float) -> str:
    """RFC 3339 UTC text of a Unix time."""
    return format_timestamp(datetime.fromtimestamp(seconds, UTC))


def body_digest(body: bytes) -> str:
    """Hex SHA-256 of the raw body: the name of its blob."""
    return hashlib.sha256(body).hexdigest()


def delivery_source(forge: str) -> str:
    """The ``context.source`` of every event a forge's deliveries produce."""
    return f"/webhooks/{forge}"


def delivery_event_id(delivery_id: str, position: int) -> str:
    """Deterministic event id: the delivery id and the event's position in it."""
    return f"{delivery_id}/{position}"


def _envelope(
    delivery: Delivery, position: int, derived: Derived, stamp: Mapping[str, Any]
) -> dict[str, Any]:
    source = delivery_source(delivery.forge)
    context: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": delivery_event_id(delivery.delivery_id, position),
        "source": source,
        "type": derived.type,
        "timestamp": derived.timestamp or delivery.received_at,
    }
    if position:
        context["chainId"] = delivery_event_id(delivery.delivery_id, 0)
    if derived.links:
        context["links"] = [dict(link) for link in derived.links]
    custom: dict[str, Any] = {"webhook": dict(stamp)}
    declared = {k: v for k, v in derived.refs.items() if v not in (None, "", [])}
    if declared:
        custom["flightlog"] = declared
    if derived.details:
        custom["details"] = {k: v for k, v in derived.details.items() if v is not None}
    return {
        "context": context,
        "subject": {"id": derived.subject_id, "source": source, "content": dict(derived.content)},
        "customData": custom,
    }


def delivery_events(
    delivery: Delivery,
    derived: Sequence[Derived],
    *,
    action: str | None = None,
    refs: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The delivery event (position 0) followed by every derived event (positions 1…n)."""
    stamp = {
        "forge": delivery.forge,
        "event": delivery.event,
        "deliveryId": delivery.delivery_id,
        "bodySha256": delivery.body_sha256,
    }
    content: dict[str, Any] = {
        "forge": delivery.forge,
        "event": delivery.event,
        "deliveryId": delivery.delivery_id,
        "bodySha256": delivery.body_sha256,
        "bodyBytes": delivery.body_bytes,
        "headers": dict(delivery.headers),
        "derivedEvents": len(derived),
    }
    if action:
        content["action"] = action
    received = Derived(
        type=DELIVERY_TYPE,
        subject_id=delivery.delivery_id,
        content=content,
        timestamp=delivery.received_at,
        refs=refs or {},
    )
    return [
        _envelope(delivery, position, item, stamp)
        for position, item in enumerate([received, *derived])
    ]


def headers_to_keep(headers: Mapping[str, str], secret_headers: Sequence[str]) -> dict[str, str]:
    """The request headers worth keeping, minus any that carry a secret."""
    hidden = {h.lower() for h in secret_headers} | {"authorization", "cookie"}
    return {k.lower(): v for k, v in sorted(headers.items()) if k.lower() not in hidden}


def require_object(value: Any, what: str) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an InputError naming ``what``."""
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a JSON object")
    return value


Mapper = Callable[[Mapping[str, Any], SourceConfig], list[Derived]]


_FORGE_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)\s*(Z|UTC|[+-]\d{2}:?\d{2})?"
)


def rfc3339(value: Any) -> str | None:
    """A forge timestamp as RFC 3339 (GitLab writes ``2021-02-23 02:41:37 UTC``), else None."""
    if not isinstance(value, str):
        return None
    match = _FORGE_TIME.fullmatch(value.strip())
    if match is None:
        return None
    zone = match[3] or "Z"
    if zone == "UTC":
        zone = "Z"
    elif zone != "Z" and ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    text = f"{match[1]}T{match[2]}{zone}"
    try:
        parse_timestamp(text)
    except ValueError:
        return None
    return text


def at(value: Any, *keys: str) -> Any:
    """Follow ``keys`` through nested objects, None where the path breaks."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def text(value: Any) -> str | None:
    """``value`` as a non-blank string (numbers are written out), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) and value.strip() else None


def strings(value: Any) -> list[str]:
    """The strings of a JSON list (anything else: empty)."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def ticket_refs(tickets: Sequence[Ticket]) -> tuple[list[str], list[dict[str, str]]]:
    """Ticket keys for refs, and ``{key, url}`` links for the details."""
    keys = [t.key for t in tickets]
    links = [{"key": t.key, "url": t.url} if t.url else {"key": t.key} for t in tickets]
    return keys, links


class TicketFinder:
    """The tickets texts of one payload name; a text met again (a push's branch) is not rescanned.

    ``finder(a, b)`` answers what ``config.tickets_in([a, b], …)`` does: the tickets in
    order of appearance, once each, the first mention of a key giving its link.
    """

    def __init__(
        self, config: SourceConfig, *, forge: str, repo: str, project_url: str = ""
    ) -> None:
        self._config = config
        self._forge, self._repo, self._project_url = forge, repo, project_url
        self._seen: dict[str, list[Ticket]] = {}

    def __call__(self, *texts: str | None) -> tuple[list[str], list[dict[str, str]]]:
        found: dict[str, Ticket] = {}
        for value in texts:
            if not isinstance(value, str) or not value:
                continue
            tickets = self._seen.get(value)
            if tickets is None:
                tickets = self._config.tickets_in(
                    (value,), forge=self._forge, repo=self._repo, project_url=self._project_url
                )
                self._seen[value] = tickets
            for ticket in tickets:
                found.setdefault(ticket.key, ticket)
        return ticket_refs(list(found.values()))
