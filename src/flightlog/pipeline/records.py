"""The events a pipeline step records: build, test, scan, approval, deployment, incident.

Pure builders: a summary or the step's flags, the CI context, an event id and a
timestamp in; CDEvents v0.5.1 events (``dev.cdeventsx.flightlog-*`` where CDEvents has
no type) out, as plain dicts ready for validation and append. The CI context travels as
``customData.flightlog`` refs and ``customData.ci`` (docs/ci.md).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from flightlog.errors import InputError
from flightlog.evidence.model import SEVERITIES, FailedTest, Finding, ScanSummary, TestSummary
from flightlog.pipeline.ci import CiContext

__all__ = [
    "DEFAULT_SOURCE",
    "DEFAULT_TEST_ENVIRONMENT",
    "MAX_FAILED_TESTS",
    "MAX_FINDINGS",
    "REPORT_MEDIA_TYPES",
    "Origin",
    "ReportFile",
    "approval_event",
    "artifact_id",
    "build_events",
    "deployment_events",
    "incident_event",
    "run_conditions",
    "scan_artifact",
    "scan_event",
    "suite_run_event",
]

SPEC_VERSION = "0.5.1"
BUILD_FINISHED = "dev.cdevents.build.finished.0.3.0"
ARTIFACT_PUBLISHED = "dev.cdevents.artifact.published.0.3.0"
TESTSUITE_FINISHED = "dev.cdevents.testsuiterun.finished.0.3.0"
SCAN_FINISHED = "dev.cdeventsx.flightlog-vulnerabilityscan.finished.0.1.0"
APPROVAL_GRANTED = "dev.cdeventsx.flightlog-approval.granted.0.1.0"
APPROVAL_REJECTED = "dev.cdeventsx.flightlog-approval.rejected.0.1.0"
DEPLOYMENT_STARTED = "dev.cdeventsx.flightlog-deployment.started.0.1.0"
DEPLOYMENT_FINISHED = "dev.cdeventsx.flightlog-deployment.finished.0.1.0"
SERVICE_DEPLOYED = "dev.cdevents.service.deployed.0.3.0"
INCIDENT_DETECTED = "dev.cdevents.incident.detected.0.3.0"
INCIDENT_REPORTED = "dev.cdevents.incident.reported.0.3.0"
INCIDENT_RESOLVED = "dev.cdevents.incident.resolved.0.3.0"

# The source of events recorded outside any CI that names its run.
DEFAULT_SOURCE = "flightlog-cli"
# The environment a test run is recorded in when the step names none.
DEFAULT_TEST_ENVIRONMENT = "ci"
# An event carries at most this many failing tests and findings, most severe first; the
# kept original report holds them all.
MAX_FAILED_TESTS = 100
MAX_FINDINGS = 500
_MAX_MESSAGE = 2000

# purl-spec: "pkg:" type "/" namespace/name ["@" version] ["?" qualifiers] ["#" subpath].
_PURL = re.compile(r"pkg:[A-Za-z][A-Za-z0-9.+-]*/[^\s/@?#][^\s]*")
# An OCI digest (OCI image spec, descriptor.md), alone or after a repository name.
_OCI_DIGEST = re.compile(r"(?:[^\s@]+@)?sha256:[0-9a-f]{64}|(?:[^\s@]+@)?sha512:[0-9a-f]{128}")


@dataclass(frozen=True)
class Origin:
    """What every recorded event shares: its id and time, the CI context and the source."""

    event_id: str
    timestamp: str
    ci: CiContext = field(default_factory=CiContext)
    source: str | None = None

    @property
    def event_source(self) -> str:
        """The ``context.source``: the given source, else the CI run URL, else the CLI."""
        return self.source or self.ci.run_url or DEFAULT_SOURCE

    @property
    def run(self) -> str:
        """A name for the CI run and job the step belongs to (the event id outside CI)."""
        if self.ci.run_id is None:
            return self.event_id
        return f"{self.ci.run_id}/{self.ci.job}" if self.ci.job else self.ci.run_id


OCTET_STREAM = "application/octet-stream"
# The media type a kept report is stored and served with, by report format.
REPORT_MEDIA_TYPES = {
    "junit": "application/xml",
    "sarif": "application/sarif+json",
    "cyclonedx": "application/vnd.cyclonedx+json",
    "trivy": "application/json",
    "grype": "application/json",
}


@dataclass(frozen=True)
class ReportFile:
    """An original report as kept in the blob store: its name, SHA-256, size and media type."""

    name: str
    sha256: str
    size: int
    media_type: str | None = None

    @classmethod
    def of(cls, name: str, data: bytes, format: str | None = None) -> ReportFile:
        """Describe the report ``data`` named ``name``, of ``format`` when known."""
        return cls(
            name=name,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            media_type=None if format is None else REPORT_MEDIA_TYPES.get(format, OCTET_STREAM),
        )

    def blob(self, data: bytes) -> tuple[bytes, str]:
        """The ``(data, media_type)`` the blob store keeps for this report."""
        return data, self.media_type or OCTET_STREAM

    def as_dict(self) -> dict[str, Any]:
        """Return the report as the event schemas describe it."""
        return _compact(
            {
                "sha256": self.sha256,
                "name": self.name,
                "size": self.size,
                "mediaType": self.media_type,
            }
        )


def artifact_id(value: str) -> str:
    """Return ``value`` if it names an artifact by purl or OCI digest, else raise InputError."""
    candidate = value.strip()
    if _PURL.fullmatch(candidate) or _OCI_DIGEST.fullmatch(candidate):
        return candidate
    raise InputError(
        f"artifact {value!r} is neither a purl (pkg:type/name@version, e.g. "
        "pkg:oci/api@sha256%3A…) nor an OCI digest (sha256:<64 hex digits>, or NAME@sha256:…)"
    )


def _compact(values: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the None values of a mapping."""
    return {k: v for k, v in values.items() if v is not None}


def _custom_data(origin: Origin, refs: Mapping[str, str | None], **extra: Any) -> dict[str, Any]:
    """The CI context as convention refs plus ``customData.ci``, and any ``extra`` keys."""
    ci = origin.ci
    convention = _compact(
        {
            "repo": ci.repository,
            "commit": ci.commit,
            "branch": ci.branch,
            "pipelineRun": ci.run_id,
            "actor": ci.actor,
            **refs,
        }
    )
    context = _compact(
        {
            "provider": ci.provider,
            "runUrl": ci.run_url,
            "job": ci.job,
            "runnerOs": ci.runner_os,
            "runnerArch": ci.runner_arch,
        }
    )
    data: dict[str, Any] = {}
    if convention:
        data["flightlog"] = convention
    if context:
        data["ci"] = context
    data.update(_compact(extra))
    return data


def _event(
    origin: Origin,
    event_type: str,
    subject_id: str,
    content: Mapping[str, Any],
    custom: Mapping[str, Any],
    *,
    suffix: str | None = None,
) -> dict[str, Any]:
    """Assemble one event; ``suffix`` tells apart the events one step records together."""
    event: dict[str, Any] = {
        "context": {
            "specversion": SPEC_VERSION,
            "id": f"{origin.event_id}-{suffix}" if suffix else origin.event_id,
            "source": origin.event_source,
            "type": event_type,
            "timestamp": origin.timestamp,
        },
        "subject": {"id": subject_id, "source": origin.event_source, "content": dict(content)},
    }
    if custom:
        event["customData"] = dict(custom)
    return event


def build_events(
    origin: Origin, *, artifact: str, version: str | None = None
) -> list[dict[str, Any]]:
    """A build finished and published ``artifact``: build.finished and artifact.published."""
    artifact = artifact_id(artifact)
    custom = _custom_data(origin, {"artifact": artifact}, build=_compact({"version": version}))
    finished = _event(origin, BUILD_FINISHED, origin.run, {"artifactId": artifact}, custom)
    published = _event(
        origin,
        ARTIFACT_PUBLISHED,
        artifact,
        _compact({"user": origin.ci.actor}),
        custom,
        suffix="artifact",
    )
    return [finished, published]


def _runtime_versions(summary: TestSummary) -> dict[str, str]:
    """The suites' properties that name a runtime version (``go.version``, ``java.version``)."""
    return {k: v for k, v in summary.properties if k.lower().endswith("version") and v}


def _failed(test: FailedTest) -> dict[str, Any]:
    """One failing test as the event carries it."""
    message = test.message
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1] + "…"
    return _compact(
        {
            "suite": test.suite,
            "classname": test.classname or None,
            "name": test.name,
            "kind": test.kind,
            "message": message,
            "type": test.type,
        }
    )


def _test_reason(summary: TestSummary) -> str:
    """Say in one line how the run went."""
    skipped = f", {summary.skipped} skipped" if summary.skipped else ""
    if summary.outcome == "success":
        return f"{summary.passed} of {summary.tests} tests passed{skipped}"
    return f"{summary.failures} failed, {summary.errors} errored of {summary.tests} tests{skipped}"


def run_conditions(
    summary: TestSummary,
    origin: Origin,
    *,
    environment: str,
    os_name: str | None = None,
    arch: str | None = None,
    conditions: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The conditions a test run ran under; explicit ``conditions`` win over detected ones."""
    detected = _compact(
        {
            "environment": environment,
            "os": origin.ci.runner_os or os_name,
            "arch": origin.ci.runner_arch or arch,
            "job": origin.ci.job,
        }
    )
    return {**detected, **_runtime_versions(summary), **(conditions or {})}


def suite_run_event(
    origin: Origin,
    summary: TestSummary,
    reports: Sequence[ReportFile],
    *,
    environment: str | None = None,
    artifact: str | None = None,
    conditions: Mapping[str, str] | None = None,
    os_name: str | None = None,
    arch: str | None = None,
) -> dict[str, Any]:
    """A test suite run finished: testsuiterun.finished with outcome, totals and conditions."""
    env = environment or DEFAULT_TEST_ENVIRONMENT
    artifact = artifact_id(artifact) if artifact is not None else None
    suite = origin.ci.job or (reports[0].name if reports else "tests")
    content = {
        "outcome": summary.outcome,
        "environment": {"id": env},
        "testSuite": {"id": suite, "name": suite},
        "reason": _test_reason(summary),
    }
    results = {
        "format": summary.format,
        "tests": summary.tests,
        "failures": summary.failures,
        "errors": summary.errors,
        "skipped": summary.skipped,
        "passed": summary.passed,
        "duration": summary.duration,
        "failed": [_failed(t) for t in summary.failed[:MAX_FAILED_TESTS]],
        "conditions": run_conditions(
            summary, origin, environment=env, os_name=os_name, arch=arch, conditions=conditions
        ),
        "reports": [r.as_dict() for r in reports],
    }
    custom = _custom_data(origin, {"artifact": artifact, "environment": env}, testResults=results)
    return _event(origin, TESTSUITE_FINISHED, f"{origin.run}/tests", content, custom)


def _finding(finding: Finding) -> dict[str, Any]:
    """One finding as the scan event carries it."""
    return _compact(
        {
            "id": finding.id,
            "severity": finding.severity,
            "package": finding.package,
            "version": finding.version,
            "fixedVersion": finding.fixed_version,
            "location": finding.location,
            "title": finding.title,
            "state": finding.state,
        }
    )


def scan_artifact(summary: ScanSummary, report: ReportFile, artifact: str | None) -> str:
    """The scanned artifact: the one given, else the report's if it is a purl or digest."""
    if artifact is not None:
        return artifact_id(artifact)
    if summary.artifact is not None:
        try:
            return artifact_id(summary.artifact)
        except InputError:
            pass
    named = f" (it names {summary.artifact!r})" if summary.artifact else ""
    raise InputError(
        f"{report.name}: the report names no artifact by purl or OCI digest{named}; "
        "name it with --artifact"
    )


def scan_event(
    origin: Origin,
    summary: ScanSummary,
    report: ReportFile,
    *,
    artifact: str | None = None,
    environment: str | None = None,
) -> dict[str, Any]:
    """A security scan finished: the flightlog-vulnerabilityscan.finished custom event."""
    scanned = scan_artifact(summary, report, artifact)
    ranked = sorted(summary.findings, key=lambda f: SEVERITIES.index(f.severity))
    content = _compact(
        {
            "tool": _compact({"name": summary.tool, "version": summary.tool_version}),
            "artifactId": scanned,
            "counts": summary.counts.as_dict(),
            "findings": [_finding(f) for f in ranked[:MAX_FINDINGS]],
            "format": summary.format,
            "report": report.as_dict(),
            "environment": {"id": environment} if environment else None,
        }
    )
    custom = _custom_data(origin, {"artifact": scanned, "environment": environment})
    subject = f"{origin.run}/scan/{report.sha256[:12]}"
    return _event(origin, SCAN_FINISHED, subject, content, custom)


def approval_event(
    origin: Origin,
    *,
    approver: str,
    granted: bool,
    artifact: str | None = None,
    change: str | None = None,
    deployment: str | None = None,
    environment: str | None = None,
    comment: str | None = None,
) -> dict[str, Any]:
    """A person granted or rejected an artifact, a change or a deployment."""
    if artifact is None and change is None and deployment is None:
        raise InputError("an approval names an artifact, a change or a deployment")
    artifact = artifact_id(artifact) if artifact is not None else None
    content = _compact(
        {
            "approver": approver,
            "artifactId": artifact,
            "change": {"id": change} if change else None,
            "deployment": {"id": deployment} if deployment else None,
            "environment": {"id": environment} if environment else None,
            "reason": comment or None,
        }
    )
    custom = _custom_data(
        origin, {"artifact": artifact, "change": change, "environment": environment}
    )
    event_type = APPROVAL_GRANTED if granted else APPROVAL_REJECTED
    return _event(origin, event_type, f"approval/{origin.event_id}", content, custom)


def deployment_events(
    origin: Origin,
    *,
    service: str,
    environment: str,
    status: Literal["started", "succeeded", "failed"],
    artifact: str | None = None,
    version: str | None = None,
    reason: str | None = None,
    deployment: str | None = None,
) -> list[dict[str, Any]]:
    """A deployment started or finished; a success naming an artifact is also service.deployed."""
    if artifact is None and version is None:
        raise InputError("a deployment names an artifact or a version")
    artifact = artifact_id(artifact) if artifact is not None else None
    subject = deployment or f"{service}/{environment}/{origin.ci.run_id or origin.event_id}"
    content: dict[str, Any] = _compact(
        {
            "service": {"id": service},
            "environment": {"id": environment},
            "artifactId": artifact,
            "version": version,
        }
    )
    custom = _custom_data(
        origin, {"service": service, "environment": environment, "artifact": artifact}
    )
    if status == "started":
        return [_event(origin, DEPLOYMENT_STARTED, subject, content, custom)]
    outcome = "success" if status == "succeeded" else "failure"
    finished = {**content, "outcome": outcome, **_compact({"reason": reason or None})}
    events = [_event(origin, DEPLOYMENT_FINISHED, subject, finished, custom)]
    if outcome == "success" and artifact is not None:
        deployed = {"environment": {"id": environment}, "artifactId": artifact}
        events.append(
            _event(origin, SERVICE_DEPLOYED, service, deployed, custom, suffix="deployed")
        )
    return events


def incident_event(
    origin: Origin,
    *,
    service: str,
    environment: str,
    title: str,
    status: Literal["opened", "resolved"],
    severity: str | None = None,
    url: str | None = None,
    incident: str | None = None,
    artifact: str | None = None,
) -> dict[str, Any]:
    """An incident opened (reported with a ticket URL, else detected) or resolved."""
    artifact = artifact_id(artifact) if artifact is not None else None
    digest = hashlib.sha256(f"{service}\n{environment}\n{title}".encode()).hexdigest()
    # Without an id, opening and resolving the same titled incident share one subject.
    subject = incident or f"incident/{service}/{environment}/{digest[:12]}"
    content = _compact(
        {
            "description": title,
            "environment": {"id": environment},
            "service": {"id": service},
            "artifactId": artifact,
        }
    )
    if status == "resolved":
        event_type = INCIDENT_RESOLVED
    elif url:
        event_type, content = INCIDENT_REPORTED, {**content, "ticketURI": url}
    else:
        event_type = INCIDENT_DETECTED
    custom = _custom_data(
        origin,
        {"service": service, "environment": environment, "artifact": artifact},
        incident=_compact({"title": title, "severity": severity, "url": url}),
    )
    return _event(origin, event_type, subject, content, custom)
