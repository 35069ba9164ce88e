"""Trivy's native JSON report (``trivy … --format json``, SchemaVersion 2).

One finding per entry of ``Results[].Vulnerabilities``; Trivy's severities (CRITICAL,
HIGH, MEDIUM, LOW, UNKNOWN) map one to one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from flightlog.evidence import severity
from flightlog.evidence.interface import Report, text, title
from flightlog.evidence.model import Finding, ScanSummary

__all__ = ["FORMAT", "TrivyFormat"]

_SCHEMA_VERSION = 2


def _artifact(doc: Mapping[str, Any]) -> str | None:
    """Return the image digest reference Trivy recorded, else the name it was given."""
    metadata = doc.get("Metadata")
    digests = metadata.get("RepoDigests") if isinstance(metadata, dict) else None
    if isinstance(digests, list) and digests and (first := text(digests[0])) is not None:
        return first
    return text(doc.get("ArtifactName"))


class TrivyFormat:
    """Trivy JSON: ``SchemaVersion``, ``ArtifactName`` and ``Results``."""

    name = "trivy"
    kind: Literal["scan"] = "scan"

    def sniff(self, report: Report) -> bool:
        """A Trivy report has ``SchemaVersion`` and ``ArtifactName`` at its top level."""
        if report.syntax != "json":
            return False
        doc = report.document
        return isinstance(doc, dict) and "SchemaVersion" in doc and "ArtifactName" in doc

    def parse(self, report: Report) -> ScanSummary:
        """Summarise every result's vulnerabilities."""
        doc = report.document
        if not isinstance(doc, dict) or "SchemaVersion" not in doc:
            raise report.fail('not a Trivy JSON report: no "SchemaVersion"')
        if doc["SchemaVersion"] != _SCHEMA_VERSION:
            raise report.fail(
                f"unsupported Trivy report SchemaVersion {doc['SchemaVersion']!r} "
                f"(expected {_SCHEMA_VERSION})"
            )
        results = doc.get("Results", [])
        if not isinstance(results, list):
            raise report.fail("Results: expected an array")
        findings = []
        for number, result in enumerate(results):
            if not isinstance(result, dict):
                raise report.fail(f"Results[{number}]: expected an object")
            target = text(result.get("Target"))
            vulnerabilities = result.get("Vulnerabilities") or []
            if not isinstance(vulnerabilities, list):
                raise report.fail(f"Results[{number}].Vulnerabilities: expected an array")
            for position, vuln in enumerate(vulnerabilities):
                vid = text(vuln.get("VulnerabilityID")) if isinstance(vuln, dict) else None
                if not isinstance(vuln, dict) or vid is None:
                    raise report.fail(
                        f"Results[{number}].Vulnerabilities[{position}]: no VulnerabilityID"
                    )
                findings.append(
                    Finding(
                        id=vid,
                        severity=severity.from_name(vuln.get("Severity")) or "unknown",
                        package=text(vuln.get("PkgName")),
                        version=text(vuln.get("InstalledVersion")),
                        fixed_version=text(vuln.get("FixedVersion")),
                        location=text(vuln.get("PkgPath")) or target,
                        title=title(vuln.get("Title")),
                    )
                )
        trivy = doc.get("Trivy")
        version = text(trivy.get("Version")) if isinstance(trivy, dict) else None
        return ScanSummary.build(
            format=self.name,
            tool="Trivy",
            tool_version=version,
            artifact=_artifact(doc),
            findings=findings,
        )


FORMAT = TrivyFormat()
