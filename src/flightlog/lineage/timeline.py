"""One line per event for timelines and search results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["describe", "item"]


def _at(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def describe(event: Mapping[str, Any] | None, refs: Sequence[tuple[str, str]]) -> str:
    """A short human sentence for an event: its message, title, outcome or subject."""
    if event is None:
        return "(payload erased)"
    content = _at(event, "subject", "content")
    custom = _at(event, "customData")
    for value in (
        _at(content, "message"),
        _at(custom, "incident", "title"),
        _at(custom, "details", "title"),
        _at(content, "reason"),
        _at(content, "description"),
    ):
        if isinstance(value, str) and value.strip():
            return value.strip().splitlines()[0][:200]
    names = dict(refs)
    parts = [f"{k}={names[k]}" for k in ("service", "environment", "artifact") if k in names]
    outcome = _at(content, "outcome")
    if isinstance(outcome, str):
        parts.append(outcome)
    return " ".join(parts) or str(_at(event, "subject", "id") or "")


def item(
    index: int,
    time: str,
    type_: str,
    event: Mapping[str, Any] | None,
    refs: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    """One timeline or search entry as a document."""
    return {
        "index": index,
        "time": time,
        "type": type_,
        "subject": _at(event, "subject", "id"),
        "summary": describe(event, refs),
        "refs": [list(r) for r in refs],
    }
