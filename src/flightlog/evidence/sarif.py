"""SARIF 2.1.0 logs (OASIS SARIF v2.1.0), as code and dependency scanners write them.

A result's severity is its ``security-severity`` property (on the result, else on its
rule: a CVSS score, or a severity word as Semgrep writes it), else its level (on the
result, else the rule's ``defaultConfiguration.level``, else SARIF's default
``warning``, §3.27.10): error → high, warning → medium, note and none → low.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from flightlog.evidence import severity
from flightlog.evidence.interface import Report, objects, text, title
from flightlog.evidence.model import Finding, ScanSummary, Severity

__all__ = ["FORMAT", "SarifFormat"]

_VERSION = "2.1.0"
_SECURITY_SEVERITY = "security-severity"


def _rule(result: Mapping[str, Any], rules: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """Return the rule a result refers to (by index, else by id), or an empty mapping."""
    index = result.get("ruleIndex")
    if index is None and isinstance(result.get("rule"), dict):
        index = result["rule"].get("index")
    if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(rules):
        return rules[index]
    rule_id = _rule_id(result, {})
    return next((r for r in rules if r.get("id") == rule_id), {})


def _rule_id(result: Mapping[str, Any], rule: Mapping[str, Any]) -> str | None:
    """Return a result's rule id from the result, its rule reference or the rule itself."""
    reference = result.get("rule")
    return (
        text(result.get("ruleId"))
        or (text(reference.get("id")) if isinstance(reference, dict) else None)
        or text(rule.get("id"))
    )


def _properties(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return an object's property bag, or an empty one."""
    bag = value.get("properties")
    return bag if isinstance(bag, dict) else {}


def _severity(result: Mapping[str, Any], rule: Mapping[str, Any]) -> Severity:
    """Rank a result: its security-severity if stated and valid, else its level."""
    for holder in (result, rule):
        stated = severity.from_security_severity(_properties(holder).get(_SECURITY_SEVERITY))
        if stated is not None:
            return stated
    level = result.get("level")
    if level is None:
        configuration = rule.get("defaultConfiguration")
        level = configuration.get("level") if isinstance(configuration, dict) else None
    return severity.from_level(level)


def _location(result: Mapping[str, Any]) -> str | None:
    """Return ``uri[:line]`` of a result's first physical location, or its logical name."""
    for location in objects(result.get("locations")):
        physical = location.get("physicalLocation")
        if isinstance(physical, dict):
            artifact = physical.get("artifactLocation")
            uri = text(artifact.get("uri")) if isinstance(artifact, dict) else None
            if uri is not None:
                region = physical.get("region")
                line = region.get("startLine") if isinstance(region, dict) else None
                return f"{uri}:{line}" if isinstance(line, int) else uri
        for logical in objects(location.get("logicalLocations")):
            name = text(logical.get("fullyQualifiedName")) or text(logical.get("name"))
            if name is not None:
                return name
    return None


def _title(result: Mapping[str, Any], rule: Mapping[str, Any]) -> str | None:
    """Return the rule's short description, else the first line of the result's message."""
    for holder in (rule.get("shortDescription"), result.get("message")):
        if isinstance(holder, dict) and (line := title(holder.get("text"))) is not None:
            return line
    return None


def _artifact(run: Mapping[str, Any]) -> str | None:
    """Return the scanned image a run names (Trivy: ``repoDigests``, ``imageName``)."""
    bag = _properties(run)
    digests = bag.get("repoDigests")
    if isinstance(digests, list) and digests and (first := text(digests[0])) is not None:
        return first
    return text(bag.get("imageName"))


class SarifFormat:
    """SARIF 2.1.0: one finding per result, across every run."""

    name = "sarif"
    kind: Literal["scan"] = "scan"

    def sniff(self, report: Report) -> bool:
        """A SARIF log is a JSON object with a ``runs`` array and a SARIF ``$schema`` or version."""
        if report.syntax != "json":
            return False
        doc = report.document
        if not isinstance(doc, dict) or not isinstance(doc.get("runs"), list):
            return False
        schema = doc.get("$schema")
        return "version" in doc or (isinstance(schema, str) and "sarif" in schema.lower())

    def parse(self, report: Report) -> ScanSummary:
        """Summarise every run's tool and results."""
        doc = report.document
        if not isinstance(doc, dict) or not isinstance(doc.get("runs"), list):
            raise report.fail('not a SARIF log: expected a JSON object with a "runs" array')
        version = doc.get("version")
        if version != _VERSION:
            raise report.fail(f"unsupported SARIF version {version!r} (expected {_VERSION!r})")
        tools: dict[str, None] = {}
        versions: dict[str, None] = {}
        findings: list[Finding] = []
        artifact: str | None = None
        for number, run in enumerate(doc["runs"]):
            if not isinstance(run, dict):
                raise report.fail(f"runs[{number}]: expected an object")
            driver = (
                run.get("tool", {}).get("driver") if isinstance(run.get("tool"), dict) else None
            )
            tool = text(driver.get("name")) if isinstance(driver, dict) else None
            if driver is None or tool is None:
                raise report.fail(f"runs[{number}].tool.driver.name: missing (SARIF §3.19.8)")
            tools[tool] = None
            tool_version = text(driver.get("semanticVersion")) or text(driver.get("version"))
            if tool_version is not None:
                versions[tool_version] = None
            artifact = artifact or _artifact(run)
            rules = list(objects(driver.get("rules")))
            findings.extend(self._findings(report, run, number, rules))
        return ScanSummary.build(
            format=self.name,
            tool=", ".join(tools) or "unknown",
            tool_version=", ".join(versions) or None,
            artifact=artifact,
            findings=findings,
        )

    @staticmethod
    def _findings(
        report: Report, run: Mapping[str, Any], number: int, rules: Sequence[Mapping[str, Any]]
    ) -> Iterator[Finding]:
        """Yield a run's results as findings."""
        results = run.get("results")
        if results is None:
            return  # §3.14.23: null results mean the tool did not run to completion
        if not isinstance(results, list):
            raise report.fail(f"runs[{number}].results: expected an array")
        for position, result in enumerate(results):
            if not isinstance(result, dict):
                raise report.fail(f"runs[{number}].results[{position}]: expected an object")
            rule = _rule(result, rules)
            yield Finding(
                id=_rule_id(result, rule) or "unknown-rule",
                severity=_severity(result, rule),
                location=_location(result),
                title=_title(result, rule),
            )


FORMAT = SarifFormat()
