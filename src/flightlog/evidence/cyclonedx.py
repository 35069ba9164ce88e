"""CycloneDX JSON documents with vulnerabilities: VEX, and SBOMs scanners annotate.

One finding per entry of ``vulnerabilities``. Its severity is the most severe of its
ratings' ``severity`` words, else the highest rating ``score`` on the CVSS scale, else
unknown. Its package is the first component it ``affects``, resolved through the
document's ``bom-ref``s; a VEX ``analysis.state`` is kept on the finding.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from flightlog.evidence import severity
from flightlog.evidence.interface import Report, objects, text, title
from flightlog.evidence.model import SEVERITIES, Finding, ScanSummary, Severity

__all__ = ["FORMAT", "CycloneDxFormat"]

_BOM_FORMAT = "CycloneDX"


def _components(doc: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Yield every component of the document, nested ones and the described one included."""
    metadata = doc.get("metadata")
    pending = list(objects(doc.get("components")))
    if isinstance(metadata, dict) and isinstance(metadata.get("component"), dict):
        pending.append(metadata["component"])
    while pending:
        component = pending.pop()
        yield component
        pending.extend(objects(component.get("components")))


def _tool(doc: Mapping[str, Any]) -> tuple[str, str | None]:
    """Return the first producing tool's name and version (CycloneDX 1.4 list or 1.5+ object)."""
    metadata = doc.get("metadata")
    tools = metadata.get("tools") if isinstance(metadata, dict) else None
    if isinstance(tools, dict):
        tools = [*objects(tools.get("components")), *objects(tools.get("services"))]
    for tool in objects(tools):
        name = text(tool.get("name"))
        if name is not None:
            return name, text(tool.get("version"))
    return "unknown", None


def _rank(ratings: Any) -> Severity:
    """Return the most severe rating by word, else by score, else unknown."""
    words = [severity.from_name(r.get("severity")) for r in objects(ratings)]
    named = [w for w in words if w is not None and w != "unknown"]
    if named:
        return min(named, key=SEVERITIES.index)
    scores = [severity.from_score(r.get("score")) for r in objects(ratings)]
    scored = [s for s in scores if s is not None]
    return min(scored, key=SEVERITIES.index) if scored else "unknown"


def _fixed(affects: Mapping[str, Any]) -> str | None:
    """Return the first version an ``affects`` entry marks ``unaffected``."""
    for version in objects(affects.get("versions")):
        if version.get("status") == "unaffected":
            return text(version.get("version")) or text(version.get("range"))
    return None


class CycloneDxFormat:
    """CycloneDX (1.4 and later) JSON with a ``vulnerabilities`` array."""

    name = "cyclonedx"
    kind: Literal["scan"] = "scan"

    def sniff(self, report: Report) -> bool:
        """A CycloneDX document says so in ``bomFormat``."""
        if report.syntax != "json":
            return False
        doc = report.document
        return isinstance(doc, dict) and doc.get("bomFormat") == _BOM_FORMAT

    def parse(self, report: Report) -> ScanSummary:
        """Summarise the document's vulnerabilities."""
        doc = report.document
        if not isinstance(doc, dict) or doc.get("bomFormat") != _BOM_FORMAT:
            raise report.fail('not a CycloneDX document: "bomFormat" is not "CycloneDX"')
        vulnerabilities = doc.get("vulnerabilities", [])
        if not isinstance(vulnerabilities, list):
            raise report.fail("vulnerabilities: expected an array")
        by_ref = {ref: c for c in _components(doc) if (ref := text(c.get("bom-ref"))) is not None}
        findings = []
        for position, vulnerability in enumerate(vulnerabilities):
            if not isinstance(vulnerability, dict):
                raise report.fail(f"vulnerabilities[{position}]: expected an object")
            vid = text(vulnerability.get("id"))
            if vid is None:
                raise report.fail(f"vulnerabilities[{position}].id: missing")
            findings.append(self._finding(vid, vulnerability, by_ref))
        tool, version = _tool(doc)
        metadata = doc.get("metadata")
        subject = metadata.get("component") if isinstance(metadata, dict) else None
        artifact = text(subject.get("purl")) if isinstance(subject, dict) else None
        return ScanSummary.build(
            format=self.name, tool=tool, tool_version=version, artifact=artifact, findings=findings
        )

    @staticmethod
    def _finding(
        vid: str, vulnerability: Mapping[str, Any], by_ref: Mapping[str, Mapping[str, Any]]
    ) -> Finding:
        """Turn one vulnerability entry into a finding."""
        affects = next(objects(vulnerability.get("affects")), {})
        ref = text(affects.get("ref"))
        component = by_ref.get(ref, {}) if ref is not None else {}
        analysis = vulnerability.get("analysis")
        return Finding(
            id=vid,
            severity=_rank(vulnerability.get("ratings")),
            package=text(component.get("name")) or ref,
            version=text(component.get("version")),
            fixed_version=_fixed(affects),
            title=title(vulnerability.get("description")),
            state=text(analysis.get("state")) if isinstance(analysis, dict) else None,
        )


FORMAT = CycloneDxFormat()
