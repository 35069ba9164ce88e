"""The CloudEvents 1.0 HTTP binding of CDEvents (cdevents spec, cloudevents-binding.md).

Structured mode carries the CloudEvent envelope with the CDEvent in ``data``; binary
mode carries the envelope in ``ce-*`` headers and the CDEvent as the body. Either way
the CloudEvents ``id``, ``source``, ``type``, ``time`` (and ``subject`` when present)
MUST equal the CDEvent's context id, source, type, timestamp and subject id; an
event where they disagree is refused rather than recorded with two identities.

A ``time`` equal to the CDEvent's timestamp cut to milliseconds also agrees (the
JavaScript SDK always sends milliseconds); the ledger records the CDEvent's own value.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from flightlog.errors import EventInvalid, InputError, MalformedInput

SPECVERSION = "1.0"
BINARY_REQUIRED = ("ce-id", "ce-source", "ce-type", "ce-specversion")
_JSON_DATA_TYPES = ("application/json", "text/json")
_SHOWN = 120


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def _same_instant(given: str, expected: str) -> bool:
    """Whether ``given`` is the instant ``expected``, or that instant cut to milliseconds."""
    if given == expected:
        return True
    try:
        left = datetime.fromisoformat(given.replace("Z", "+00:00"))
        right = datetime.fromisoformat(expected.replace("Z", "+00:00"))
    except ValueError:
        return False
    if (left.tzinfo is None) != (right.tzinfo is None):
        return False
    return left in (right, right.replace(microsecond=right.microsecond // 1000 * 1000))


def _cdevent_attrs(event: Mapping[str, Any]) -> dict[str, object]:
    context = event.get("context")
    subject = event.get("subject")
    context = context if isinstance(context, Mapping) else {}
    subject = subject if isinstance(subject, Mapping) else {}
    return {
        "id": context.get("id"),
        "source": context.get("source"),
        "type": context.get("type"),
        "time": context.get("timestamp"),
        "subject": subject.get("id"),
    }


_CDEVENT_PATHS = {
    "id": "$.context.id",
    "source": "$.context.source",
    "type": "$.context.type",
    "time": "$.context.timestamp",
    "subject": "$.subject.id",
}


def check_agreement(
    attributes: Mapping[str, str],
    event: Mapping[str, Any],
    *,
    position: str | None,
    label: str = "attribute {}",
) -> None:
    """Refuse an event whose CloudEvents attributes differ from its CDEvent context."""
    ours = _cdevent_attrs(event)
    for name, cdevents_path in _CDEVENT_PATHS.items():
        if name not in attributes:
            continue
        given, expected = attributes[name], ours[name]
        same = (
            isinstance(expected, str) and _same_instant(given, expected)
            if name == "time"
            else given == expected
        )
        if not same:
            raise EventInvalid(
                f"CloudEvents {label.format(name)} {_show(given)} does not match the CDEvent's "
                f"{cdevents_path[2:]} {_show(expected)}",
                path=cdevents_path,
                position=position,
            )


def unwrap_structured(
    envelope: object, *, position: str | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The CDEvent carried in a structured-mode CloudEvent, and the envelope's attributes."""
    if not isinstance(envelope, dict):
        raise EventInvalid("a structured CloudEvent must be a JSON object", position=position)
    if envelope.get("specversion") != SPECVERSION:
        raise EventInvalid(
            f"specversion must be {SPECVERSION!r}", path="$.specversion", position=position
        )
    for name in ("id", "source", "type"):
        value = envelope.get(name)
        if not isinstance(value, str) or not value:
            raise EventInvalid(
                f"the CloudEvents attribute {name!r} is required",
                path=f"$.{name}",
                position=position,
            )
    content_type = envelope.get("datacontenttype", "application/json")
    if not isinstance(content_type, str) or content_type.split(";")[0].strip().lower() not in (
        _JSON_DATA_TYPES
    ):
        raise EventInvalid(
            "datacontenttype must be application/json for a CDEvent",
            path="$.datacontenttype",
            position=position,
        )
    data = envelope.get("data")
    if not isinstance(data, dict):
        raise EventInvalid(
            "the CDEvent must be a JSON object in 'data' (data_base64 is not accepted)",
            path="$.data",
            position=position,
        )
    attributes = {
        n: envelope[n] for n in ("id", "source", "type", "time", "subject") if n in envelope
    }
    for name, value in attributes.items():
        if not isinstance(value, str):
            raise EventInvalid(
                f"the CloudEvents attribute {name!r} must be a string",
                path=f"$.{name}",
                position=position,
            )
    return data, attributes


def decode_header_value(name: str, value: str) -> str:
    """A ``ce-*`` header value unquoted and percent-decoded (HTTP binding §3.1.3.2)."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        # An RFC 9110 quoted-string: drop the quotes and undo its backslash escapes.
        inner, out, escaped = value[1:-1], [], False
        for char in inner:
            if escaped or char != "\\":
                out.append(char)
                escaped = False
            else:
                escaped = True
        value = "".join(out)
    if not value.isascii():
        raise InputError(
            f"header {name} holds characters outside ASCII; percent-encode them as UTF-8 "
            "(CloudEvents HTTP binding §3.1.3.2)"
        )
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise InputError(
            f"header {name} is not valid percent-encoded UTF-8 (CloudEvents HTTP binding §3.1.3.2)"
        ) from None


def binary_attributes(headers: Mapping[str, str]) -> dict[str, str] | None:
    """The ``ce-*`` attributes of a binary-mode request, or None when it carries none."""
    pairs = [(k.lower(), v) for k, v in _all_items(headers) if k.lower().startswith("ce-")]
    present = dict(pairs)
    if len(present) != len(pairs):
        repeated = next(k for k, _ in pairs if sum(1 for n, _ in pairs if n == k) > 1)
        raise MalformedInput(f"header {repeated} is repeated; send each CloudEvents attribute once")
    if not present:
        return None
    missing = [h for h in BINARY_REQUIRED if h not in present]
    if missing:
        raise InputError(f"binary-mode CloudEvent lacks header(s) {', '.join(missing)}")
    if decode_header_value("ce-specversion", present["ce-specversion"]) != SPECVERSION:
        raise InputError(f"ce-specversion must be {SPECVERSION!r}")
    return {
        name: decode_header_value(f"ce-{name}", present[f"ce-{name}"])
        for name in ("id", "source", "type", "time", "subject")
        if f"ce-{name}" in present
    }


def _all_items(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """Every header pair, repeats included (Starlette's ``Headers`` keeps them all)."""
    multi = getattr(headers, "multi_items", None)
    return list(multi()) if callable(multi) else list(headers.items())


class CloudEventsSource:
    """CloudEvents 1.0 over HTTP: structured, batch or binary mode, each carrying a CDEvent."""

    name = "cloudevents"
    media_types = (
        "application/cloudevents+json",
        "application/cloudevents-batch+json",
        "application/json",
    )

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str | None) -> None:
        """CloudEvents carry no signature of their own: the API token authenticates them."""

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        """None: each event's own ``context.id`` (per source) is what deduplicates it."""

    def to_events(self, headers: Mapping[str, str], body: bytes) -> list[Mapping[str, Any]]:
        """The CDEvents of a request, each checked against its CloudEvents attributes."""
        from flightlog.events.canonical import parse_document

        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        value = parse_document(body, name="body").value
        if kind == "application/cloudevents-batch+json":
            if not isinstance(value, list):
                raise EventInvalid("a batch must be a JSON array of events", position="body")
            out: list[Mapping[str, Any]] = []
            for i, envelope in enumerate(value):
                event, attributes = unwrap_structured(envelope, position=f"[{i}]")
                check_agreement(attributes, event, position=f"[{i}]", label="attribute {}")
                out.append(event)
            return out
        if kind == "application/cloudevents+json":
            event, attributes = unwrap_structured(value, position="body")
            check_agreement(attributes, event, position="body", label="attribute {}")
            return [event]
        if not isinstance(value, dict):
            raise EventInvalid("an event must be a JSON object", position="body")
        check_agreement(
            binary_attributes(headers) or {}, value, position="body", label="header ce-{}"
        )
        return [value]


SOURCE = CloudEventsSource()
