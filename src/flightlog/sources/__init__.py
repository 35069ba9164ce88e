"""Source adapters: one module per producer, turning its requests into CDEvents (pure).

A source is one file in this package that defines ``SOURCE``, an object with the
:class:`Source` interface: it checks a request's authenticity (a webhook signature, say)
and turns its body into events. :func:`get_source` finds it by module name, so adding
a forge means adding a file, nothing else: a forge's ``SOURCE`` is a
:class:`~flightlog.sources.webhook.WebhookSource`, and :func:`webhook_sources` is what the
server serves under ``/webhooks/{name}``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from flightlog.errors import InputError
from flightlog.sources.webhook import WebhookSource


class Source(Protocol):
    """What the ingest path asks of a producer's adapter."""

    name: str
    media_types: Sequence[str]

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str | None) -> None:
        """Raise AuthError unless the request comes from the producer (no-op if unsigned)."""
        ...

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        """The id a redelivery repeats, if the request names one (the dedup key)."""
        ...

    def to_events(self, headers: Mapping[str, str], body: bytes) -> list[Mapping[str, Any]]:
        """The CDEvents the request carries, in order; InputError or EventInvalid if none."""
        ...


def source_names() -> list[str]:
    """The names of the sources this package holds."""
    return sorted(
        info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")
    )


def get_source(name: str) -> Source:
    """The adapter of the source ``name``; InputError naming the known ones otherwise."""
    if name not in source_names():
        raise InputError(f"unknown source {name!r}; known: {', '.join(source_names())}")
    module = importlib.import_module(f"{__name__}.{name}")
    source: Source | None = getattr(module, "SOURCE", None)
    if source is None:
        raise InputError(f"the module of source {name!r} defines no SOURCE")
    return source


def webhook_sources() -> list[WebhookSource]:
    """The forges: every source whose ``SOURCE`` is a webhook source, by name."""
    found = []
    for name in source_names():
        source = getattr(importlib.import_module(f"{__name__}.{name}"), "SOURCE", None)
        if isinstance(source, WebhookSource):
            found.append(source)
    return found


def get_webhook_source(name: str) -> WebhookSource:
    """The forge ``name``; InputError naming the known forges otherwise."""
    for source in webhook_sources():
        if source.name == name:
            return source
    known = ", ".join(s.name for s in webhook_sources())
    raise InputError(f"unknown forge {name!r}; known: {known}")
