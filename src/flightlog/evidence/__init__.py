"""Pipeline evidence: test and security reports parsed into typed summaries (pure).

One module per format (junit, sarif, cyclonedx, trivy, grype) behind the interface in
``interface.py``; ``parse_report`` detects the format from the content.
"""

from flightlog.evidence.interface import Report, ReportFormat
from flightlog.evidence.model import (
    SEVERITIES,
    FailedTest,
    Finding,
    ScanSummary,
    Severity,
    SeverityCounts,
    Summary,
    TestSummary,
)
from flightlog.evidence.registry import (
    DEFAULT_MAX_REPORT_BYTES,
    detect_format,
    format_names,
    formats,
    parse_report,
    parse_scan,
    parse_tests,
)

__all__ = [
    "DEFAULT_MAX_REPORT_BYTES",
    "SEVERITIES",
    "FailedTest",
    "Finding",
    "Report",
    "ReportFormat",
    "ScanSummary",
    "Severity",
    "SeverityCounts",
    "Summary",
    "TestSummary",
    "detect_format",
    "format_names",
    "formats",
    "parse_report",
    "parse_scan",
    "parse_tests",
]
