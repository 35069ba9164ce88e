"""The typed summaries every evidence parser returns: test runs and security scans."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "SEVERITIES",
    "FailedTest",
    "Finding",
    "ScanSummary",
    "Severity",
    "SeverityCounts",
    "Summary",
    "TestSummary",
]

Severity = Literal["critical", "high", "medium", "low", "unknown"]
# Most severe first: the order counts are reported and findings are ranked in.
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "unknown")


@dataclass(frozen=True)
class FailedTest:
    """One test case that failed (an assertion) or errored (an unexpected exception)."""

    suite: str
    classname: str
    name: str
    kind: Literal["failure", "error"]
    message: str
    type: str | None = None


@dataclass(frozen=True)
class TestSummary:
    """What a test report holds: totals, failing tests and the suites' properties."""

    __test__ = False  # not a pytest test class, despite its name

    format: str
    tests: int
    failures: int
    errors: int
    skipped: int
    duration: float
    failed: tuple[FailedTest, ...]
    suites: tuple[str, ...]
    properties: tuple[tuple[str, str], ...]

    @property
    def passed(self) -> int:
        """Return the number of test cases that neither failed, errored nor were skipped."""
        return self.tests - self.failures - self.errors - self.skipped

    @property
    def outcome(self) -> Literal["success", "failure"]:
        """Return ``failure`` when any test failed or errored, else ``success``."""
        return "failure" if self.failures or self.errors else "success"

    @classmethod
    def combine(cls, summaries: Iterable[TestSummary]) -> TestSummary:
        """Add up the summaries of several reports of one run (durations add up too)."""
        parts = list(summaries)
        formats = dict.fromkeys(p.format for p in parts)
        return cls(
            format=", ".join(formats),
            tests=sum(p.tests for p in parts),
            failures=sum(p.failures for p in parts),
            errors=sum(p.errors for p in parts),
            skipped=sum(p.skipped for p in parts),
            duration=round(sum(p.duration for p in parts), 6),
            failed=tuple(f for p in parts for f in p.failed),
            suites=tuple(s for p in parts for s in p.suites),
            properties=tuple(dict.fromkeys(kv for p in parts for kv in p.properties)),
        )


@dataclass(frozen=True)
class SeverityCounts:
    """How many findings a scan reported at each severity."""

    critical: int = 0
    high: int = 0
    medium: int = 0
    low: int = 0
    unknown: int = 0

    @classmethod
    def of(cls, severities: Iterable[Severity]) -> SeverityCounts:
        """Count ``severities`` by level."""
        tally = dict.fromkeys(SEVERITIES, 0)
        for severity in severities:
            tally[severity] += 1
        return cls(**tally)

    @property
    def total(self) -> int:
        """Return the number of findings at any severity."""
        return self.critical + self.high + self.medium + self.low + self.unknown

    def as_dict(self) -> dict[str, int]:
        """Return the counts keyed by severity, most severe first."""
        return {
            "critical": self.critical,
            "high": self.high,
            "medium": self.medium,
            "low": self.low,
            "unknown": self.unknown,
        }


@dataclass(frozen=True)
class Finding:
    """One reported vulnerability or rule violation.

    ``id`` is the CVE/advisory id or the rule id; ``location`` a path (``file:line``)
    for code findings; ``state`` a VEX analysis state (``not_affected`` …) when given.
    """

    id: str
    severity: Severity
    package: str | None = None
    version: str | None = None
    fixed_version: str | None = None
    location: str | None = None
    title: str | None = None
    state: str | None = None


@dataclass(frozen=True)
class ScanSummary:
    """What a security report holds: the tool, the scanned artifact and its findings."""

    format: str
    tool: str
    tool_version: str | None
    artifact: str | None
    findings: tuple[Finding, ...]
    counts: SeverityCounts

    @classmethod
    def build(
        cls,
        *,
        format: str,
        tool: str,
        tool_version: str | None,
        artifact: str | None,
        findings: Iterable[Finding],
    ) -> ScanSummary:
        """Build a summary whose counts are those of ``findings``."""
        found = tuple(findings)
        return cls(
            format=format,
            tool=tool,
            tool_version=tool_version,
            artifact=artifact,
            findings=found,
            counts=SeverityCounts.of(f.severity for f in found),
        )


Summary = TestSummary | ScanSummary
