"""Grype's native JSON report (``grype … -o json``).

One finding per entry of ``matches``; Grype's severities map by name (Negligible → low).
An image source's manifest digest names the artifact as an OCI purl.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote

from flightlog.evidence import severity
from flightlog.evidence.interface import Report, objects, text, title
from flightlog.evidence.model import Finding, ScanSummary

__all__ = ["FORMAT", "GrypeFormat"]


def _artifact(doc: Mapping[str, Any]) -> str | None:
    """Return ``pkg:oci/NAME@sha256%3A…`` for an image with a manifest digest, else the input."""
    source = doc.get("source")
    if not isinstance(source, dict) or not isinstance(target := source.get("target"), dict):
        return None
    user_input = text(target.get("userInput"))
    digest = text(target.get("manifestDigest"))
    if source.get("type") == "image" and user_input is not None and digest is not None:
        # purl-spec, type oci: the name is the last path segment, without tag or digest.
        name = user_input.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0].lower()
        return f"pkg:oci/{quote(name, safe='')}@{quote(digest, safe='')}"
    return user_input


def _fixed(vulnerability: Mapping[str, Any]) -> str | None:
    """Return the first version Grype says fixes the vulnerability."""
    fix = vulnerability.get("fix")
    versions = fix.get("versions") if isinstance(fix, dict) else None
    if isinstance(versions, list):
        return next((v for v in map(text, versions) if v is not None), None)
    return None


class GrypeFormat:
    """Grype JSON: ``matches`` and a ``descriptor`` naming grype."""

    name = "grype"
    kind: Literal["scan"] = "scan"

    def sniff(self, report: Report) -> bool:
        """A Grype report has ``matches`` and a ``descriptor`` at its top level."""
        if report.syntax != "json":
            return False
        doc = report.document
        return (
            isinstance(doc, dict) and "matches" in doc and isinstance(doc.get("descriptor"), dict)
        )

    def parse(self, report: Report) -> ScanSummary:
        """Summarise every match."""
        doc = report.document
        if not isinstance(doc, dict) or not isinstance(doc.get("matches"), list):
            raise report.fail('not a Grype JSON report: no "matches" array')
        findings = []
        for position, match in enumerate(doc["matches"]):
            vulnerability = match.get("vulnerability") if isinstance(match, dict) else None
            vid = text(vulnerability.get("id")) if isinstance(vulnerability, dict) else None
            if not isinstance(vulnerability, dict) or vid is None:
                raise report.fail(f"matches[{position}].vulnerability.id: missing")
            package = match.get("artifact")
            package = package if isinstance(package, dict) else {}
            location = next(objects(package.get("locations")), {})
            findings.append(
                Finding(
                    id=vid,
                    severity=severity.from_name(vulnerability.get("severity")) or "unknown",
                    package=text(package.get("name")),
                    version=text(package.get("version")),
                    fixed_version=_fixed(vulnerability),
                    location=text(location.get("path")),
                    title=title(vulnerability.get("description")),
                )
            )
        descriptor = doc.get("descriptor")
        descriptor = descriptor if isinstance(descriptor, dict) else {}
        return ScanSummary.build(
            format=self.name,
            tool=text(descriptor.get("name")) or "grype",
            tool_version=text(descriptor.get("version")),
            artifact=_artifact(doc),
            findings=findings,
        )


FORMAT = GrypeFormat()
