"""`flightlog record build|test|scan|approve|deploy|incident` against real stores and a server."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flightlog.cli.app import app
from flightlog.pipeline.ci import PROVIDERS
from tests.paths import corpus_file
from tests.server.conftest import live_server  # noqa: F401 - the real-server fixture
from tests.server.harness import LiveServer

SHA = "4f2a9c1e0d7b3a5c6e8f9a0b1c2d3e4f5a6b7c8d"
ARTIFACT = "pkg:oci/api@sha256%3A" + "ab" * 32
# Every CI marker the detection knows, unset, so the runner's own CI does not leak in.
NO_CI: dict[str, str | None] = dict.fromkeys(marker for _, marker, _ in PROVIDERS)
GITHUB: dict[str, str | None] = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_REPOSITORY": "acme/payments",
    "GITHUB_SHA": SHA,
    "GITHUB_REF": "refs/heads/main",
    "GITHUB_HEAD_REF": "",
    "GITHUB_RUN_ID": "8812",
    "GITHUB_RUN_ATTEMPT": "1",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_JOB": "test",
    "GITHUB_ACTOR": "alice",
    "GITHUB_TRIGGERING_ACTOR": "",
}


def runner(database_url: str, tmp_path: Path, **extra: str | None) -> CliRunner:
    """A runner on a fresh store, in GitHub Actions unless told otherwise."""
    env: dict[str, str | None] = {
        **NO_CI,
        **GITHUB,
        "FLIGHTLOG_DATABASE_URL": database_url,
        "FLIGHTLOG_HOME": str(tmp_path / "home"),
        "FLIGHTLOG_ORIGIN": "cli.example/log",
        "FLIGHTLOG_SERVER": "",
        "FLIGHTLOG_MAX_REPORT_BYTES": None,
    }
    env.update(extra)
    return CliRunner(env=env)


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> CliRunner:
    """A runner on a fresh store (SQLite, then PostgreSQL), in GitHub Actions."""
    return runner(database_url, tmp_path)


def run(cli: CliRunner, *args: str, code: int = 0) -> str:
    """Run a command, check its exit status, return its standard output."""
    result = cli.invoke(app, list(args))
    assert result.exit_code == code, result.output + result.stderr
    return result.stdout


def run_json(cli: CliRunner, *args: str) -> Any:
    """Run a command with --json and parse its output."""
    return json.loads(run(cli, *args, "--json"))


def event_at(cli: CliRunner, index: int) -> dict[str, Any]:
    """The event recorded at ``index``."""
    event: dict[str, Any] = json.loads(run(cli, "show", str(index), "--json"))["event"]
    return event


def corpus(relative: str) -> str:
    """The path of a corpus file, as a user passes it."""
    return str(corpus_file(relative))


class TestRecordTest:
    """record test."""

    def test_json_keys_and_event(self, cli: CliRunner) -> None:
        """--json prints the totals, outcome and index; the event holds the same evidence."""
        out = run_json(
            cli,
            "record",
            "test",
            "--junit",
            corpus("junit/python-unittest-xmlrunner.xml"),
            "--env",
            "staging",
            "--condition",
            "db=postgres-15",
            "--artifact",
            ARTIFACT,
        )
        data = corpus_file("junit/python-unittest-xmlrunner.xml").read_bytes()
        assert {k: out[k] for k in ("tests", "failures", "errors", "skipped", "outcome")} == {
            "tests": 8,
            "failures": 1,
            "errors": 1,
            "skipped": 2,
            "outcome": "failure",
        }
        assert out["duration"] == 0.001
        assert out["index"] == 0
        event = event_at(cli, 0)
        assert event["context"]["type"] == "dev.cdevents.testsuiterun.finished.0.3.0"
        assert event["subject"]["content"]["environment"] == {"id": "staging"}
        results = event["customData"]["testResults"]
        assert results["conditions"]["db"] == "postgres-15"
        assert results["conditions"]["job"] == "test"
        assert results["reports"][0]["sha256"] == hashlib.sha256(data).hexdigest()
        assert event["customData"]["flightlog"]["commit"] == SHA
        log = json.loads(run(cli, "log", "--commit", SHA, "--json"))["events"]
        assert [d["index"] for d in log] == [0]

    def test_the_report_is_kept(self, cli: CliRunner) -> None:
        """The JUnit file is kept in the blob store under the digest the event carries."""
        path = corpus("junit/jest-junit.xml")
        out = run_json(cli, "record", "test", "--junit", path)
        data = Path(path).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        assert out["reports"] == [
            {
                "sha256": digest,
                "name": "jest-junit.xml",
                "size": len(data),
                "mediaType": "application/xml",
            }
        ]
        assert event_at(cli, 0)["customData"]["testResults"]["reports"] == out["reports"]
        kept = cli.invoke(app, ["blob", "get", digest])
        assert kept.exit_code == 0, kept.stderr
        assert kept.stdout_bytes == data

    def test_several_reports_add_up(self, cli: CliRunner) -> None:
        """Two JUnit files make one run whose totals are their sums."""
        out = run_json(
            cli,
            "record",
            "test",
            "--junit",
            corpus("junit/jest-junit.xml"),
            "--junit",
            corpus("junit/nested-testsuites-junit.xml"),
        )
        assert (out["tests"], out["failures"], out["skipped"]) == (11, 7, 1)
        assert out["duration"] == pytest.approx(151.36)

    def test_hostile_report_records_nothing(self, cli: CliRunner, tmp_path: Path) -> None:
        """An entity bomb fails the step with one line naming the file; nothing is recorded."""
        run(cli, "migrate")
        bomb = tmp_path / "bomb.xml"
        bomb.write_bytes(
            b'<!DOCTYPE t [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b"<testsuite><testcase name='&b;'/></testsuite>"
        )
        good = corpus("junit/jest-junit.xml")
        result = cli.invoke(app, ["record", "test", "--junit", good, "--junit", str(bomb)])
        assert result.exit_code == 1
        assert result.stderr.strip() == (
            f"error: {bomb}: XML entity declaration 'a' refused "
            "(entity expansion and external entities are not allowed in reports)"
        )
        assert json.loads(run(cli, "log", "--json"))["events"] == []

    def test_report_size_limit(self, database_url: str, tmp_path: Path) -> None:
        """FLIGHTLOG_MAX_REPORT_BYTES refuses larger reports before reading them."""
        small = runner(database_url, tmp_path, FLIGHTLOG_MAX_REPORT_BYTES="100")
        path = corpus("junit/jest-junit.xml")
        result = small.invoke(app, ["record", "test", "--junit", path])
        assert result.exit_code == 1
        assert result.stderr.strip() == f"error: {path}: 5356 bytes exceed the report limit of 100"

    def test_bad_condition(self, cli: CliRunner) -> None:
        """A condition without = is refused."""
        result = cli.invoke(
            app, ["record", "test", "--junit", corpus("junit/jest-junit.xml"), "--condition", "x"]
        )
        assert result.exit_code == 1
        assert "--condition 'x': expected KEY=VALUE" in result.stderr


class TestRecordScan:
    """record scan."""

    def test_json_keys(self, cli: CliRunner) -> None:
        """--json prints tool, format, counts, findings and index."""
        out = run_json(
            cli, "record", "scan", corpus("cyclonedx/grype-0.94.0-busybox-1.32.1.grype-report.json")
        )
        assert out == {
            "tool": "grype",
            "format": "grype",
            "artifact": "pkg:oci/busybox@sha256%3A123b1fd3a44eaaf7322e08e9175d9ca57d49ebf2955d4fa1f5607e99dc31bcbb",
            "counts": {"critical": 1, "high": 10, "medium": 2, "low": 2, "unknown": 0},
            "findings": 15,
            "index": 0,
        }
        assert event_at(cli, 0)["subject"]["content"]["counts"] == out["counts"]

    def test_several_files_and_forced_format(self, cli: CliRunner) -> None:
        """Several reports are recorded together, one event each, with --format honoured."""
        out = run_json(
            cli,
            "record",
            "scan",
            corpus("sarif/semgrep-oss-1.69.0-issue_10191.sarif"),
            corpus("cyclonedx/trivy-pom.cdx.json"),
            "--artifact",
            ARTIFACT,
        )
        assert [(r["tool"], r["format"], r["findings"], r["index"]) for r in out] == [
            ("Semgrep OSS", "sarif", 77, 0),
            ("trivy", "cyclonedx", 2, 1),
        ]
        forced = run_json(
            cli, "record", "scan", corpus("sarif/snyk-container-result.sarif"), "--format",
            "sarif", "--artifact", ARTIFACT,
        )  # fmt: skip
        assert forced["counts"]["medium"] == 1

    def test_every_report_is_kept(self, cli: CliRunner) -> None:
        """Each scanned file is kept under the digest its own event carries, with its media type."""
        files = [
            corpus("sarif/semgrep-oss-1.69.0-issue_10191.sarif"),
            corpus("cyclonedx/trivy-pom.cdx.json"),
        ]
        run_json(cli, "record", "scan", *files, "--artifact", ARTIFACT)
        for index, (path, media_type) in enumerate(
            zip(files, ["application/sarif+json", "application/vnd.cyclonedx+json"], strict=True)
        ):
            report = event_at(cli, index)["subject"]["content"]["report"]
            assert report["mediaType"] == media_type
            kept = cli.invoke(app, ["blob", "get", report["sha256"]])
            assert kept.stdout_bytes == Path(path).read_bytes()

    def test_a_refused_report_keeps_no_blob(self, cli: CliRunner, tmp_path: Path) -> None:
        """A step that fails on its second file keeps neither event nor the first file's blob."""
        run(cli, "migrate")
        good = corpus("sarif/snyk-container-result.sarif")
        bad = tmp_path / "bad.json"
        bad.write_text('{"runs": "nope"}')
        result = cli.invoke(app, ["record", "scan", good, str(bad), "--artifact", ARTIFACT])
        assert result.exit_code == 1
        digest = hashlib.sha256(Path(good).read_bytes()).hexdigest()
        assert cli.invoke(app, ["blob", "get", digest]).exit_code == 1
        assert json.loads(run(cli, "log", "--json"))["events"] == []

    def test_not_sarif(self, cli: CliRunner, tmp_path: Path) -> None:
        """A file forced as SARIF that is not SARIF fails naming it; nothing is recorded."""
        run(cli, "migrate")
        path = tmp_path / "x.sarif"
        path.write_text('{"runs": "nope"}')
        result = cli.invoke(
            app, ["record", "scan", str(path), "--format", "sarif", "--artifact", ARTIFACT]
        )
        assert result.exit_code == 1
        assert result.stderr.strip() == (
            f'error: {path}: not a SARIF log: expected a JSON object with a "runs" array'
        )
        assert json.loads(run(cli, "log", "--json"))["events"] == []

    def test_no_artifact(self, cli: CliRunner) -> None:
        """A report naming no usable artifact, without --artifact, fails the step."""
        result = cli.invoke(app, ["record", "scan", corpus("sarif/codeql-lgtm-valid-sarif.sarif")])
        assert result.exit_code == 1
        assert "names no artifact by purl or OCI digest; name it with --artifact" in result.stderr


class TestOtherRecords:
    """record build, approve, deploy and incident."""

    def test_build(self, cli: CliRunner) -> None:
        """A build records two events; the flags override the CI's commit."""
        out = run_json(
            cli, "record", "build", "--artifact", ARTIFACT, "--version", "1.4.2", "--commit", "f00d"
        )
        assert (out["index"], out["indexes"]) == (0, [0, 1])
        assert event_at(cli, 0)["customData"]["flightlog"]["commit"] == "f00d"
        assert event_at(cli, 1)["context"]["type"] == "dev.cdevents.artifact.published.0.3.0"

    def test_build_bad_artifact(self, cli: CliRunner) -> None:
        """A tag is not an artifact id."""
        result = cli.invoke(app, ["record", "build", "--artifact", "api:latest"])
        assert result.exit_code == 1
        assert "is neither a purl" in result.stderr

    def test_approve(self, cli: CliRunner) -> None:
        """An approval needs exactly one decision and one target."""
        out = run_json(
            cli, "record", "approve", "--change", "1287", "--approver", "carol", "--rejected",
            "--comment", "two highs",
        )  # fmt: skip
        assert out == {"decision": "rejected", "approver": "carol", "target": "1287", "index": 0}
        both = cli.invoke(
            app,
            ["record", "approve", "--change", "1", "--approver", "c", "--granted", "--rejected"],
        )
        assert both.exit_code == 1
        assert "exactly one of --granted and --rejected" in both.stderr

    def test_deploy_and_incident(self, cli: CliRunner) -> None:
        """Deployments and incidents record their types and print their subjects."""
        started = run_json(
            cli, "record", "deploy", "--service", "payments", "--env", "prod", "--artifact",
            ARTIFACT, "--status", "started",
        )  # fmt: skip
        done = run_json(
            cli, "record", "deploy", "--service", "payments", "--env", "prod", "--artifact",
            ARTIFACT, "--status", "succeeded",
        )  # fmt: skip
        assert started["deployment"] == done["deployment"] == "payments/prod/8812"
        assert done["indexes"] == [1, 2]
        assert event_at(cli, 2)["context"]["type"] == "dev.cdevents.service.deployed.0.3.0"
        incident = run_json(
            cli, "record", "incident", "--service", "payments", "--env", "prod", "--title",
            "Checkout 500s", "--status", "opened", "--severity", "SEV2",
        )  # fmt: skip
        assert incident["type"] == "dev.cdevents.incident.detected.0.3.0"
        assert incident["index"] == 3
        bad = cli.invoke(
            app,
            [
                "record",
                "deploy",
                "--service",
                "s",
                "--env",
                "e",
                "--version",
                "1",
                "--status",
                "done",
            ],
        )
        assert bad.exit_code == 1
        assert "--status 'done': expected started, succeeded or failed" in bad.stderr

    def test_outside_ci(self, sqlite_url: str, tmp_path: Path) -> None:
        """Outside any CI the event carries only what flags give."""
        plain = runner(sqlite_url, tmp_path, **dict.fromkeys(GITHUB))
        run(plain, "record", "build", "--artifact", ARTIFACT, "--repo", "acme/x")
        event = event_at(plain, 0)
        assert event["context"]["source"] == "flightlog-cli"
        assert event["customData"]["flightlog"] == {"repo": "acme/x", "artifact": ARTIFACT}


def test_through_the_server(live_server: LiveServer, tmp_path: Path) -> None:  # noqa: F811
    """With --server the events go to the server, and land in its ledger."""
    cli = runner(
        f"sqlite:///{tmp_path / 'client.db'}",
        tmp_path,
        FLIGHTLOG_SERVER=live_server.url,
        FLIGHTLOG_TOKEN=live_server.admin,
    )
    out = run_json(cli, "record", "test", "--junit", corpus("junit/jest-junit.xml"))
    assert (out["tests"], out["failures"], out["index"]) == (6, 4, 0)
    scan = run_json(cli, "record", "scan", corpus("cyclonedx/trivy-alpine-310.trivy-report.json"),
                    "--artifact", ARTIFACT)  # fmt: skip
    assert (scan["format"], scan["findings"], scan["index"]) == ("trivy", 4, 1)
    assert event_at(cli, 1)["subject"]["content"]["artifactId"] == ARTIFACT
    digest = out["reports"][0]["sha256"]
    kept = cli.invoke(app, ["blob", "get", digest])
    assert kept.stdout_bytes == corpus_file("junit/jest-junit.xml").read_bytes()
    assert not (tmp_path / "client.db").exists()
