"""Paths of the third-party CDEvents samples and of our own event fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CDEVENTS_CORPUS = ROOT.parent / "shared" / "corpus" / "cdevents"
CONFORMANCE = CDEVENTS_CORPUS / "conformance"
CUSTOM_CONFORMANCE = CDEVENTS_CORPUS / "custom" / "conformance.json"
FIXTURES = ROOT / "tests" / "fixtures" / "events"
CONFORMANCE_FILES = sorted(CONFORMANCE.glob("*.json"))
FIXTURE_FILES = sorted(FIXTURES.glob("flightlog-*.json"))


def load(path: Path) -> Any:
    """Return the parsed JSON of ``path``."""
    return json.loads(path.read_text(encoding="utf-8"))


def conformance(name: str) -> Any:
    """Return the CDEvents conformance event ``<name>.json``."""
    return load(CONFORMANCE / f"{name}.json")


def fixture(name: str) -> Any:
    """Return our event fixture ``<name>.json``."""
    return load(FIXTURES / f"{name}.json")
