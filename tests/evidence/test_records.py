"""Event builders: every event a pipeline step records validates and carries its evidence."""

from __future__ import annotations

from typing import Any

import pytest

from flightlog.errors import InputError
from flightlog.events import extract_refs, validate_event
from flightlog.evidence import parse_scan, parse_tests
from flightlog.pipeline import records
from flightlog.pipeline.ci import CiContext, detect_ci
from flightlog.pipeline.records import Origin, ReportFile
from tests.paths import corpus_file

SHA = "4f2a9c1e0d7b3a5c6e8f9a0b1c2d3e4f5a6b7c8d"
DIGEST = "sha256:" + "ab" * 32
ARTIFACT = "pkg:oci/api@sha256%3A" + "ab" * 32
CI = detect_ci(
    {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "acme/payments",
        "GITHUB_SHA": SHA,
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_RUN_ID": "8812",
        "GITHUB_JOB": "test",
        "GITHUB_ACTOR": "alice",
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
    }
)
ORIGIN = Origin(event_id="0b9f4d2e-5c1a-4f7e", timestamp="2026-03-02T09:15:00.123456Z", ci=CI)


def valid(event: dict[str, Any]) -> dict[str, Any]:
    """Validate ``event`` against its schema and return it."""
    validate_event(event)
    return event


class TestArtifactIds:
    """Artifacts are named by purl or OCI digest."""

    @pytest.mark.parametrize(
        "value",
        [ARTIFACT, "pkg:pypi/flightlog@0.1.0", DIGEST, f"ghcr.io/acme/api@{DIGEST}"],
    )
    def test_accepted(self, value: str) -> None:
        """purls and OCI digests (bare or after a repository) are accepted as written."""
        assert records.artifact_id(value) == value

    @pytest.mark.parametrize(
        "value", ["api:latest", "sha256:abc", "pkg:", "ghcr.io/acme/api", "pkg:oci/ bad"]
    )
    def test_refused(self, value: str) -> None:
        """Tags, short digests and plain names are refused with the expected forms named."""
        with pytest.raises(InputError, match=r"is neither a purl .* nor an OCI digest"):
            records.artifact_id(value)


class TestBuild:
    """record build."""

    def test_build_and_artifact(self) -> None:
        """A build records build.finished and artifact.published, linked to the commit."""
        finished, published = map(
            valid, records.build_events(ORIGIN, artifact=ARTIFACT, version="1.4.2")
        )
        assert finished["context"]["type"] == "dev.cdevents.build.finished.0.3.0"
        assert finished["context"]["source"] == "https://github.com/acme/payments/actions/runs/8812"
        assert finished["subject"] == {
            "id": "8812/test",
            "source": "https://github.com/acme/payments/actions/runs/8812",
            "content": {"artifactId": ARTIFACT},
        }
        assert published["context"]["id"] == "0b9f4d2e-5c1a-4f7e-artifact"
        assert published["subject"]["id"] == ARTIFACT
        assert published["subject"]["content"] == {"user": "alice"}
        assert finished["customData"]["build"] == {"version": "1.4.2"}
        assert ("commit", SHA) in extract_refs(finished)
        assert ("artifact", ARTIFACT) in extract_refs(published)
        assert ("pipeline_run", "8812") in extract_refs(finished)


class TestSuiteRun:
    """record test."""

    def test_failing_run(self) -> None:
        """A JUnit report with failures becomes a failed run with totals, failures and conditions."""
        data = corpus_file("junit/gotestsum-junitxml-report.xml").read_bytes()
        summary = parse_tests(data, name="report.xml")
        report = ReportFile.of("report.xml", data)
        event = valid(
            records.suite_run_event(
                ORIGIN,
                summary,
                [report],
                environment="staging",
                artifact=ARTIFACT,
                conditions={"feature_flags": "new-checkout"},
                os_name="ignored-because-ci-says",
            )
        )
        assert event["context"]["type"] == "dev.cdevents.testsuiterun.finished.0.3.0"
        assert event["subject"]["content"] == {
            "outcome": "failure",
            "environment": {"id": "staging"},
            "testSuite": {"id": "test", "name": "test"},
            "reason": "13 failed, 0 errored of 60 tests, 5 skipped",
        }
        results = event["customData"]["testResults"]
        assert {k: results[k] for k in ("tests", "failures", "errors", "skipped", "passed")} == {
            "tests": 60,
            "failures": 13,
            "errors": 0,
            "skipped": 5,
            "passed": 42,
        }
        assert results["duration"] == 2.1
        assert len(results["failed"]) == 13
        assert results["failed"][0]["suite"] == "gotest.tools/gotestsum/testjson/internal/badmain"
        assert results["conditions"] == {
            "environment": "staging",
            "os": "Linux",
            "arch": "X64",
            "job": "test",
            "go.version": "go7.7.7",
            "feature_flags": "new-checkout",
        }
        assert results["reports"] == [
            {"sha256": report.sha256, "name": "report.xml", "size": len(data)}
        ]
        refs = extract_refs(event)
        assert ("environment", "staging") in refs
        assert ("artifact", ARTIFACT) in refs
        assert ("branch", "main") in refs

    def test_passing_run_outside_ci(self) -> None:
        """Outside CI the run is in the default environment, source and OS given by the shell."""
        summary = parse_tests(b'<testsuite name="s"><testcase name="a"/></testsuite>', name="r.xml")
        origin = Origin(event_id="e1", timestamp="2026-03-02T09:15:00Z")
        event = valid(
            records.suite_run_event(
                origin, summary, [ReportFile.of("r.xml", b"x")], os_name="Linux", arch="x86_64"
            )
        )
        assert event["context"]["source"] == "flightlog-cli"
        assert event["subject"]["id"] == "e1/tests"
        assert event["subject"]["content"]["outcome"] == "success"
        assert event["subject"]["content"]["reason"] == "1 of 1 tests passed"
        assert event["subject"]["content"]["testSuite"] == {"id": "r.xml", "name": "r.xml"}
        assert event["customData"]["testResults"]["conditions"] == {
            "environment": "ci",
            "os": "Linux",
            "arch": "x86_64",
        }
        assert "ci" not in event["customData"]

    def test_flags_override_ci(self) -> None:
        """A commit given by flag replaces the detected one in the event's refs."""
        summary = parse_tests(b'<testsuite name="s"><testcase name="a"/></testsuite>', name="r.xml")
        origin = Origin(
            event_id="e2", timestamp="2026-03-02T09:15:00Z", ci=CI.override(commit="abc123")
        )
        event = records.suite_run_event(origin, summary, [])
        assert event["customData"]["flightlog"]["commit"] == "abc123"


class TestScan:
    """record scan."""

    def test_grype_report_names_its_artifact(self) -> None:
        """A Grype image report needs no --artifact: its manifest digest names the image."""
        relative = "cyclonedx/grype-0.94.0-busybox-1.32.1.grype-report.json"
        data = corpus_file(relative).read_bytes()
        summary = parse_scan(data, name="grype.json")
        event = valid(records.scan_event(ORIGIN, summary, ReportFile.of("grype.json", data)))
        content = event["subject"]["content"]
        assert content["tool"] == {"name": "grype", "version": "0.94.0"}
        assert content["artifactId"] == summary.artifact
        assert content["counts"] == {"critical": 1, "high": 10, "medium": 2, "low": 2, "unknown": 0}
        assert [f["severity"] for f in content["findings"]][:2] == ["critical", "high"]
        assert len(content["findings"]) == 15
        assert content["format"] == "grype"
        assert content["report"]["sha256"] == ReportFile.of("x", data).sha256

    @pytest.mark.parametrize(
        "relative",
        [
            "sarif/semgrep-oss-1.69.0-issue_10191.sarif",
            "sarif/codeql-lgtm-valid-sarif.sarif",
            "cyclonedx/bom-examples.vex.cisa-case-3.cdx.json",
            "cyclonedx/trivy-alpine-310.trivy-report.json",
        ],
    )
    def test_every_format_validates(self, relative: str) -> None:
        """Scan events of each format, with the artifact given, validate against the schema."""
        data = corpus_file(relative).read_bytes()
        summary = parse_scan(data, name=relative)
        event = valid(
            records.scan_event(
                ORIGIN,
                summary,
                ReportFile.of(relative, data),
                artifact=ARTIFACT,
                environment="prod",
            )
        )
        assert event["subject"]["content"]["counts"] == summary.counts.as_dict()
        assert ("environment", "prod") in extract_refs(event)

    def test_report_without_artifact(self) -> None:
        """A report naming no purl or digest, and no --artifact, is refused naming the file."""
        data = corpus_file("sarif/trivy-alpine-310.sarif").read_bytes()
        summary = parse_scan(data, name="trivy.sarif")
        with pytest.raises(
            InputError,
            match=r"^trivy\.sarif: the report names no artifact by purl or OCI digest "
            r"\(it names 'testdata/fixtures/images/alpine-310\.tar\.gz'\); name it with --artifact$",
        ):
            records.scan_event(ORIGIN, summary, ReportFile.of("trivy.sarif", data))

    def test_findings_capped(self) -> None:
        """Beyond the cap, the most severe findings are kept; counts stay complete."""
        data = corpus_file("sarif/semgrep-oss-1.69.0-issue_10191.sarif").read_bytes()
        summary = parse_scan(data, name="s.sarif")
        original = records.MAX_FINDINGS
        records.MAX_FINDINGS = 5
        try:
            event = records.scan_event(ORIGIN, summary, ReportFile.of("s", data), artifact=DIGEST)
        finally:
            records.MAX_FINDINGS = original
        content = event["subject"]["content"]
        assert [f["severity"] for f in content["findings"]] == ["critical"] * 5
        assert content["counts"]["medium"] == 42


class TestApproval:
    """record approve."""

    def test_granted_artifact(self) -> None:
        """A granted approval of an artifact names the approver and the comment."""
        event = valid(
            records.approval_event(
                ORIGIN, approver="carol", granted=True, artifact=ARTIFACT, comment="LGTM"
            )
        )
        assert event["context"]["type"] == "dev.cdeventsx.flightlog-approval.granted.0.1.0"
        assert event["subject"]["content"] == {
            "approver": "carol",
            "artifactId": ARTIFACT,
            "reason": "LGTM",
        }
        assert ("actor", "carol") in extract_refs(event)

    def test_rejected_deployment(self) -> None:
        """A rejected deployment approval validates."""
        event = valid(
            records.approval_event(ORIGIN, approver="dan", granted=False, deployment="d-17")
        )
        assert event["context"]["type"] == "dev.cdeventsx.flightlog-approval.rejected.0.1.0"
        assert event["subject"]["content"]["deployment"] == {"id": "d-17"}

    def test_needs_a_target(self) -> None:
        """An approval of nothing is refused."""
        with pytest.raises(InputError, match="names an artifact, a change or a deployment"):
            records.approval_event(ORIGIN, approver="dan", granted=True)


class TestDeployment:
    """record deploy."""

    def test_started(self) -> None:
        """A started deployment is one custom event."""
        (event,) = records.deployment_events(
            ORIGIN, service="payments", environment="prod", status="started", version="1.4.2"
        )
        valid(event)
        assert event["context"]["type"] == "dev.cdeventsx.flightlog-deployment.started.0.1.0"
        assert event["subject"]["id"] == "payments/prod/8812"
        refs = extract_refs(event)
        assert ("service", "payments") in refs
        assert ("environment", "prod") in refs

    def test_succeeded_with_artifact(self) -> None:
        """A success naming an artifact is also CDEvents service.deployed."""
        finished, deployed = map(
            valid,
            records.deployment_events(
                ORIGIN,
                service="payments",
                environment="prod",
                status="succeeded",
                artifact=ARTIFACT,
            ),
        )
        assert finished["subject"]["content"]["outcome"] == "success"
        assert deployed["context"]["type"] == "dev.cdevents.service.deployed.0.3.0"
        assert deployed["subject"] == {
            "id": "payments",
            "source": "https://github.com/acme/payments/actions/runs/8812",
            "content": {"environment": {"id": "prod"}, "artifactId": ARTIFACT},
        }

    def test_failed(self) -> None:
        """A failure is a finished deployment with outcome failure and its reason."""
        (event,) = records.deployment_events(
            ORIGIN,
            service="payments",
            environment="prod",
            status="failed",
            version="1.4.2",
            reason="health check timed out",
        )
        valid(event)
        assert event["subject"]["content"]["outcome"] == "failure"
        assert event["subject"]["content"]["reason"] == "health check timed out"

    def test_needs_artifact_or_version(self) -> None:
        """A deployment of nothing is refused."""
        with pytest.raises(InputError, match="names an artifact or a version"):
            records.deployment_events(ORIGIN, service="s", environment="e", status="started")


class TestIncident:
    """record incident."""

    def test_opened_with_url_then_resolved(self) -> None:
        """Opening with a URL is incident.reported; resolving shares its subject."""
        opened = valid(
            records.incident_event(
                ORIGIN,
                service="payments",
                environment="prod",
                title="Checkout 500s",
                status="opened",
                severity="SEV2",
                url="https://status.example.com/i/42",
            )
        )
        resolved = valid(
            records.incident_event(
                ORIGIN,
                service="payments",
                environment="prod",
                title="Checkout 500s",
                status="resolved",
            )
        )
        assert opened["context"]["type"] == "dev.cdevents.incident.reported.0.3.0"
        assert opened["subject"]["content"]["ticketURI"] == "https://status.example.com/i/42"
        assert opened["customData"]["incident"] == {
            "title": "Checkout 500s",
            "severity": "SEV2",
            "url": "https://status.example.com/i/42",
        }
        assert resolved["context"]["type"] == "dev.cdevents.incident.resolved.0.3.0"
        assert opened["subject"]["id"] == resolved["subject"]["id"]

    def test_opened_without_url(self) -> None:
        """Without a ticket URL an opened incident is incident.detected."""
        event = valid(
            records.incident_event(
                ORIGIN, service="payments", environment="prod", title="Latency", status="opened"
            )
        )
        assert event["context"]["type"] == "dev.cdevents.incident.detected.0.3.0"


def test_empty_ci_context_adds_no_custom_data() -> None:
    """Outside CI, with nothing to link, an event carries only its own custom data."""
    origin = Origin(event_id="e", timestamp="2026-03-02T09:15:00Z", ci=CiContext())
    event = records.approval_event(origin, approver="x", granted=True, change="12")
    assert event["customData"] == {"flightlog": {"change": "12"}}
