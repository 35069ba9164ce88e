"""The refs of every corpus, fixture, webhook, demo and benchmark event, pinned in a file.

``refs-pinned.json`` (beside this module) holds, for each event, the refs
``extract_refs`` yields and one digest over the refs of its variants: the event with one
of its values at a time (subject id, every content value, every ``customData`` value)
replaced by each value of :data:`PROBES`, and with each probe added as a new key, so
lists, blanks, non-strings and ticket-shaped text reach every rule. The file is
written by running this module (``python -m tests.events.pinned_refs``) and only when a
change to what refs mean is intended; a faster extraction must leave it as it is.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import events as bench_events
from flightlog.demo import demo_history
from flightlog.events.refs import extract_refs
from flightlog.sources import github, gitlab
from tests.events.corpus import CONFORMANCE_FILES, CUSTOM_CONFORMANCE, FIXTURE_FILES, load
from tests.paths import ROOT
from tests.server.webhooks import (
    GITHUB_FILES,
    GITLAB_FILES,
    github_body,
    github_event,
    gitlab_hook,
)

PINNED = Path(__file__).with_name("refs-pinned.json")
DEMO_START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
BENCH_EVENTS = 60

PROBES: tuple[Any, ...] = (
    None,
    True,
    0,
    7,
    1.5,
    "",
    "   ",
    "plain",
    "PAY-123",
    "feature/OPS-7-retry and PAY-12",
    "see CVE-2024-3094, UTF-8 and abcPAY-1",
    "https://jira.example.com/browse/INC-42",
    ["a", "", 3, "PAY-5 fix", None],
    [],
    {"id": "nested-PAY-9"},
    {"id": ["x", "y"], "name": "n"},
)


def events() -> Iterator[tuple[str, Any]]:
    """``(label, event)`` of every event the pin covers, in a fixed order."""
    for path in [*CONFORMANCE_FILES, CUSTOM_CONFORMANCE, *FIXTURE_FILES]:
        yield path.relative_to(ROOT).as_posix(), load(path)
    for path in GITHUB_FILES:
        headers = {"x-github-event": github_event(path), "x-github-delivery": f"gh-{path.stem}"}
        for k, event in enumerate(github.SOURCE.to_events(headers, github_body(path))):
            yield f"{path.relative_to(ROOT).as_posix()}[{k}]", event
    for path in GITLAB_FILES:
        headers = {"x-gitlab-event": gitlab_hook(path), "x-gitlab-event-uuid": f"gl-{path.stem}"}
        for k, event in enumerate(gitlab.SOURCE.to_events(headers, path.read_bytes())):
            yield f"{path.relative_to(ROOT).as_posix()}[{k}]", event
    for step, (name, batch) in enumerate(demo_history(DEMO_START)):
        for k, event in enumerate(batch):
            yield f"demo[{step}] {name}[{k}]", event
    for k, event in enumerate(bench_events.events(0, BENCH_EVENTS, run="log")):
        yield f"bench[{k}]", event


def _places(event: Any) -> Iterator[tuple[Any, Any]]:
    """``(container, key)`` of every value a variant replaces, and of one new key each."""
    subject = event.get("subject") if isinstance(event, dict) else None
    if isinstance(subject, dict):
        yield subject, "id"
        yield from _inside(subject.get("content"))
    custom = event.get("customData") if isinstance(event, dict) else None
    if isinstance(custom, dict):
        yield custom, "flightlog"
        yield from _inside(custom.get("flightlog"))


def _inside(value: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(value, dict):
        for key in list(value):
            yield value, key
            yield from _inside(value[key])
        yield value, "probe"
    elif isinstance(value, list):
        for k, item in enumerate(value):
            yield value, k
            yield from _inside(item)


def variants_digest(event: Any) -> str:
    """One SHA-256 over the refs of every variant of ``event``, in order."""
    digest = hashlib.sha256()
    count = sum(1 for _ in _places(event))
    for n in range(count):
        for probe in PROBES:
            variant = copy.deepcopy(event)
            container, key = list(_places(variant))[n]
            container[key] = copy.deepcopy(probe)
            digest.update(json.dumps(extract_refs(variant)).encode())
    return digest.hexdigest()


def pins() -> dict[str, dict[str, Any]]:
    """The pin of every event: its refs and its variants' digest."""
    return {
        label: {
            "refs": [list(ref) for ref in extract_refs(event)],
            "variants": variants_digest(event),
        }
        for label, event in events()
    }


if __name__ == "__main__":
    PINNED.write_text(json.dumps(pins(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
