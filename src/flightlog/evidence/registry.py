"""The registry of evidence formats, discovered from this package, and format detection.

Every module of ``flightlog.evidence`` that defines ``FORMAT`` is a format, so a new
format is one new file.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from functools import cache
from typing import Literal

from flightlog.config import DEFAULT_MAX_REPORT_BYTES
from flightlog.errors import InputTooLarge, MalformedInput
from flightlog.evidence.interface import Report, ReportFormat
from flightlog.evidence.model import ScanSummary, Summary, TestSummary

__all__ = [
    "DEFAULT_MAX_REPORT_BYTES",
    "detect_format",
    "format_names",
    "formats",
    "parse_report",
    "parse_scan",
    "parse_tests",
]


@cache
def formats() -> Mapping[str, ReportFormat]:
    """Return every registered format by name, discovered once from this package."""
    found: dict[str, ReportFormat] = {}
    package = importlib.import_module("flightlog.evidence")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"flightlog.evidence.{info.name}")
        fmt = getattr(module, "FORMAT", None)
        if fmt is not None:
            found[fmt.name] = fmt
    return found


def format_names(kind: Literal["tests", "scan"] | None = None) -> list[str]:
    """Return the names of the registered formats (of one ``kind``), sorted."""
    return sorted(name for name, fmt in formats().items() if kind is None or fmt.kind == kind)


def detect_format(report: Report, kind: Literal["tests", "scan"] | None = None) -> ReportFormat:
    """Return the one format whose ``sniff`` recognises ``report``, or raise MalformedInput."""
    if report.syntax == "other":
        raise report.fail("not a report: neither XML nor JSON")
    if report.syntax == "json":
        report.document  # noqa: B018 - parse once here so a syntax error is reported as such
    matches = [
        fmt
        for fmt in formats().values()
        if (kind is None or fmt.kind == kind) and fmt.sniff(report)
    ]
    if len(matches) != 1:
        wanted = ", ".join(format_names(kind))
        if not matches:
            raise report.fail(
                f"not a recognised report ({report.syntax.upper()}, but none of: {wanted})"
            )
        names = ", ".join(fmt.name for fmt in matches)
        raise report.fail(f"ambiguous report format ({names}); name one with --format")
    return matches[0]


def parse_report(
    data: bytes,
    *,
    name: str,
    format: str | None = None,
    kind: Literal["tests", "scan"] | None = None,
    max_bytes: int = DEFAULT_MAX_REPORT_BYTES,
) -> Summary:
    """Summarise one report, its format named or detected from its content."""
    if len(data) > max_bytes:
        raise InputTooLarge(f"{name}: {len(data)} bytes exceed the report limit of {max_bytes}")
    report = Report(name=name, data=data)
    if format is None:
        fmt = detect_format(report, kind)
    else:
        found = formats().get(format)
        if found is None or (kind is not None and found.kind != kind):
            raise MalformedInput(
                f"{name}: unknown report format {format!r} (known: {', '.join(format_names(kind))})"
            )
        fmt = found
    return fmt.parse(report)


def parse_tests(
    data: bytes, *, name: str, max_bytes: int = DEFAULT_MAX_REPORT_BYTES
) -> TestSummary:
    """Summarise one test report (JUnit XML)."""
    summary = parse_report(data, name=name, kind="tests", max_bytes=max_bytes)
    if not isinstance(summary, TestSummary):  # pragma: no cover - the registry filtered by kind
        raise MalformedInput(f"{name}: not a test report")
    return summary


def parse_scan(
    data: bytes,
    *,
    name: str,
    format: str | None = None,
    max_bytes: int = DEFAULT_MAX_REPORT_BYTES,
) -> ScanSummary:
    """Summarise one security report (SARIF, CycloneDX, Trivy or Grype JSON)."""
    summary = parse_report(data, name=name, format=format, kind="scan", max_bytes=max_bytes)
    if not isinstance(summary, ScanSummary):  # pragma: no cover - the registry filtered by kind
        raise MalformedInput(f"{name}: not a security report")
    return summary
