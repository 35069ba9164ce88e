"""Severity normalisation: every report's severity words and scores onto five levels.

The levels are ``critical``, ``high``, ``medium``, ``low`` and ``unknown``; the mapping
is documented in docs/evidence.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from flightlog.evidence.model import Severity

__all__ = ["from_level", "from_name", "from_score", "from_security_severity"]

_NAMES: Mapping[str, Severity] = {
    "critical": "critical",
    "high": "high",
    "medium": "medium",
    "moderate": "medium",
    "low": "low",
    # "No impact" and informational ratings are known to be minor: they count as low,
    # never as unknown, which is reserved for findings whose severity nobody stated.
    "negligible": "low",
    "info": "low",
    "informational": "low",
    "none": "low",
    "unknown": "unknown",
    "unspecified": "unknown",
    "other": "unknown",
}

# SARIF 2.1.0 §3.27.10 result levels, as GitHub code scanning ranks them.
_LEVELS: Mapping[str, Severity] = {
    "error": "high",
    "warning": "medium",
    "note": "low",
    "none": "low",
}

# CVSS v3 qualitative rating scale (FIRST CVSS v3.1 specification §5), which GitHub uses
# for SARIF ``security-severity`` scores: the lowest score of each level.
_BANDS: tuple[tuple[float, Severity], ...] = (
    (9.0, "critical"),
    (7.0, "high"),
    (4.0, "medium"),
    (0.0, "low"),
)
_MAX_SCORE = 10.0


def from_name(value: Any) -> Severity | None:
    """Map a severity word (``HIGH``, ``Negligible``, ``moderate`` …), or None if unknown."""
    if not isinstance(value, str):
        return None
    return _NAMES.get(value.strip().lower())


def from_score(value: Any) -> Severity | None:
    """Map a CVSS score 0.0-10.0 (number or numeric string) to a level, or None if invalid."""
    if isinstance(value, bool):
        return None
    try:
        score = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(score) or score > _MAX_SCORE:
        return None
    return next((level for floor, level in _BANDS if score >= floor), None)


def from_security_severity(value: Any) -> Severity | None:
    """Map a SARIF ``security-severity`` property: a CVSS score, or a severity word."""
    return from_score(value) or from_name(value)


def from_level(value: Any) -> Severity:
    """Map a SARIF result level; an absent or unrecognised level is SARIF's default, warning."""
    if isinstance(value, str) and value in _LEVELS:
        return _LEVELS[value]
    return _LEVELS["warning"]
