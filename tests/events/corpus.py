"""Paths of the third-party CDEvents samples and of our own event fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.paths import CORPUS, FIXTURES, ROOT, corpus_files  # noqa: F401 - ROOT is re-exported

CDEVENTS_CORPUS = CORPUS / "cdevents"
CONFORMANCE = CDEVENTS_CORPUS / "conformance"
CUSTOM_CONFORMANCE = CDEVENTS_CORPUS / "custom" / "conformance.json"
EVENT_FIXTURES = FIXTURES / "events"
CONFORMANCE_FILES = corpus_files("cdevents/conformance", "*.json")
FIXTURE_FILES = sorted(EVENT_FIXTURES.glob("flightlog-*.json"))


def load(path: Path) -> Any:
    """Return the parsed JSON of ``path``."""
    return json.loads(path.read_text(encoding="utf-8"))


def conformance(name: str) -> Any:
    """Return the CDEvents conformance event ``<name>.json``."""
    return load(CONFORMANCE / f"{name}.json")


def fixture(name: str) -> Any:
    """Return our event fixture ``<name>.json``."""
    return load(EVENT_FIXTURES / f"{name}.json")
