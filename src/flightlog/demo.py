"""A realistic deployment history, made by the real mappings: GitHub webhooks and pipeline steps.

Pure: returns the batches of events to record, each as a pipeline step or a webhook
delivery would append them. ``flightlog demo`` records them; the lineage tests ask
their questions of it. Every event carries ``customData.flightlog.demo`` free of refs,
so the demo data is easy to tell apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from flightlog.evidence.model import FailedTest, Finding, ScanSummary, TestSummary
from flightlog.pipeline import records
from flightlog.pipeline.ci import CiContext
from flightlog.sources import github
from flightlog.sources.config import parse_config
from flightlog.sources.webhook import Delivery, delivery_events

__all__ = ["DEMO_SOURCE_CONFIG", "Batch", "Release", "demo_history", "is_demo"]

DEMO_SOURCE_CONFIG = """
[systems]
"src/billing/**" = "billing"
"src/api/**" = "api"
"src/ui/**" = "ui"
"db/**" = "database"
"""

Batch = tuple[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class Release:
    """One release of one service, from its commits to its deployments."""

    service: str
    version: str
    commits: tuple[tuple[str, str, str], ...]  # (author, message, path touched)
    reviewer: str
    approver: str | None
    tests: Literal["pass", "fail", "none"] = "pass"
    critical: bool = False
    envs: tuple[str, ...] = ("staging", "production")


RELEASES = (
    Release(
        "payments",
        "1.4.0",
        (
            ("alice", "PAY-101 add SEPA instant transfers", "src/billing/sepa.py"),
            ("bob", "PAY-102 retry card authorisations once", "src/api/cards.py"),
        ),
        reviewer="carol",
        approver="carol",
    ),
    Release(
        "web",
        "2.7.0",
        (("dave", "WEB-31 new checkout page", "src/ui/checkout.tsx"),),
        reviewer="erin",
        approver=None,
        tests="none",
    ),
    Release(
        "payments",
        "1.5.0",
        (
            ("alice", "PAY-110 currency rounding per ISO 4217", "src/billing/money.py"),
            ("bob", "PAY-111 drop the legacy ledger column", "db/migrations/0042.sql"),
        ),
        reviewer="carol",
        approver="dave",
    ),
    Release(
        "payments",
        "1.6.0",
        (
            ("bob", "PAY-120 batch settlement writes", "src/billing/settle.py"),
            ("bob", "PAY-121 connection pool of 4", "src/api/pool.py"),
        ),
        reviewer="alice",
        approver="bob",
        tests="fail",
        critical=True,
    ),
)


def _sha(*parts: str) -> str:
    return hashlib.sha1("\n".join(parts).encode(), usedforsecurity=False).hexdigest()


def _artifact(run: str, service: str, version: str) -> str:
    """The OCI image of one release; each history (``run``) builds its own."""
    digest = hashlib.sha256(f"{run}/{service}/{version}".encode()).hexdigest()
    return f"pkg:oci/{service}@sha256:{digest}"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Recorder:
    """Turns the story into batches, through the webhook mapping and the pipeline builders."""

    def __init__(self, start: datetime, run: str) -> None:
        self.run = run
        self.now = start
        self.counter = 0
        self.config = parse_config(DEMO_SOURCE_CONFIG)
        self.batches: list[Batch] = []

    def tick(self, minutes: float) -> str:
        self.now += timedelta(minutes=minutes)
        return _stamp(self.now)

    def _id(self, what: str) -> str:
        self.counter += 1
        return f"{self.run}-{self.counter:05d}-{what}"

    def webhook(self, event: str, payload: dict[str, Any]) -> None:
        delivery = Delivery(
            forge="github",
            event=event,
            delivery_id=self._id(event),
            body_sha256=hashlib.sha256(f"{event}{self.counter}".encode()).hexdigest(),
            body_bytes=1000,
            headers={"x-github-event": event},
            received_at=_stamp(self.now),
            payload=payload,
        )
        derived = github.map_payload(event, payload, self.config)
        events = delivery_events(delivery, derived, refs=github.repo_refs(payload))
        self.batches.append((f"webhook {event}", [_mark(e) for e in events]))

    def step(self, name: str, events: list[dict[str, Any]]) -> None:
        self.batches.append((name, [_mark(e) for e in events]))

    def origin(self, ci: CiContext) -> records.Origin:
        return records.Origin(event_id=self._id("step"), timestamp=_stamp(self.now), ci=ci)


def _mark(event: dict[str, Any]) -> dict[str, Any]:
    event.setdefault("customData", {})["demo"] = True
    return event


def is_demo(event: object) -> bool:
    """Whether a recorded event is demo data: its ``customData.demo`` is ``true``."""
    if not isinstance(event, dict):
        return False
    custom = event.get("customData")
    return isinstance(custom, dict) and custom.get("demo") is True


def _repo(service: str) -> dict[str, Any]:
    name = f"acme/{service}"
    return {"full_name": name, "html_url": f"https://github.com/{name}"}


def _release(rec: _Recorder, rel: Release, number: int) -> Iterator[None]:
    repo = _repo(rel.service)
    shas = [_sha(rec.run, rel.service, rel.version, m) for _, m, _ in rel.commits]
    head = shas[-1]
    author = rel.commits[-1][0]
    branch = f"feature/{rel.commits[0][1].split(' ')[0]}"
    pr = {
        "number": number,
        "title": rel.commits[0][1],
        "user": {"login": author},
        "state": "open",
        "merged": False,
        "html_url": f"https://github.com/acme/{rel.service}/pull/{number}",
        "head": {"ref": branch, "sha": head},
        "base": {"ref": "main"},
        "updated_at": rec.tick(5),
    }
    rec.webhook(
        "pull_request",
        {"action": "opened", "pull_request": pr, "repository": repo, "sender": {"login": author}},
    )
    yield
    rec.tick(90)
    review = {
        "user": {"login": rel.reviewer},
        "state": "approved",
        "body": "LGTM",
        "submitted_at": _stamp(rec.now),
    }
    rec.webhook(
        "pull_request_review",
        {
            "action": "submitted",
            "pull_request": pr,
            "review": review,
            "repository": repo,
            "sender": {"login": rel.reviewer},
        },
    )
    merged = {
        **pr,
        "state": "closed",
        "merged": True,
        "merged_by": {"login": author},
        "merge_commit_sha": head,
        "merged_at": rec.tick(20),
    }
    rec.webhook(
        "pull_request",
        {
            "action": "closed",
            "pull_request": merged,
            "repository": repo,
            "sender": {"login": author},
        },
    )
    commits = [
        {
            "id": sha,
            "message": message,
            "timestamp": _stamp(rec.now),
            "url": f"https://github.com/acme/{rel.service}/commit/{sha}",
            "author": {"name": who, "username": who},
            "committer": {"name": who, "username": who},
            "added": [],
            "modified": [path],
            "removed": [],
        }
        for sha, (who, message, path) in zip(shas, rel.commits, strict=True)
    ]
    rec.webhook(
        "push",
        {
            "ref": "refs/heads/main",
            "before": _sha(rel.service, "before", rel.version),
            "after": head,
            "commits": commits,
            "repository": repo,
            "pusher": {"name": author},
            "sender": {"login": author},
        },
    )
    yield
    run = f"{rel.service}-{number}"
    ci = CiContext(
        provider="github",
        repository=f"acme/{rel.service}",
        commit=head,
        branch="main",
        run_id=run,
        actor=author,
        job="build",
        run_url=f"https://github.com/acme/{rel.service}/actions/runs/{number}",
    )
    artifact = _artifact(rec.run, rel.service, rel.version)
    rec.tick(6)
    rec.step(
        "record build", records.build_events(rec.origin(ci), artifact=artifact, version=rel.version)
    )
    if rel.tests != "none":
        failed = (
            ()
            if rel.tests == "pass"
            else (
                FailedTest(
                    "settlement",
                    "SettleTest",
                    "test_concurrent_batches",
                    "failure",
                    "deadlock detected",
                ),
            )
        )
        summary = TestSummary("junit", 240, len(failed), 0, 3, 41.5, failed, ("unit",), ())
        rec.tick(4)
        report = records.ReportFile.of("junit.xml", b"<testsuites/>")
        rec.step(
            "record test",
            [records.suite_run_event(rec.origin(ci), summary, [report], artifact=artifact)],
        )
    findings = [Finding("CVE-2026-1111", "medium", "urllib3", "2.0.1", "2.0.7")]
    if rel.critical:
        findings.insert(
            0,
            Finding(
                "CVE-2026-4242",
                "critical",
                "openssl",
                "3.0.1",
                "3.0.9",
                title="remote code execution in the TLS handshake",
            ),
        )
    scan = ScanSummary.build(
        format="grype", tool="grype", tool_version="0.80.0", artifact=artifact, findings=findings
    )
    rec.tick(3)
    report = records.ReportFile.of("grype.json", b"{}")
    rec.step("record scan", [records.scan_event(rec.origin(ci), scan, report, artifact=artifact)])
    yield
    for env in rel.envs:
        if env == "production" and rel.approver is not None:
            rec.tick(30)
            rec.step(
                "record approve",
                [
                    records.approval_event(
                        rec.origin(ci.override(actor=rel.approver)),
                        approver=rel.approver,
                        granted=True,
                        artifact=artifact,
                        environment=env,
                        change=f"acme/{rel.service}#{number}",
                    )
                ],
            )
        rec.tick(15)
        deploy_ci = ci.override(run_id=f"{run}-{env}", actor=author, job="deploy")
        rec.step(
            "record deploy",
            records.deployment_events(
                rec.origin(deploy_ci),
                service=rel.service,
                environment=env,
                status="started",
                artifact=artifact,
                version=rel.version,
                deployment=f"{rel.service}/{env}/{number}",
            ),
        )
        rec.tick(4)
        rec.step(
            "record deploy",
            records.deployment_events(
                rec.origin(deploy_ci),
                service=rel.service,
                environment=env,
                status="succeeded",
                artifact=artifact,
                version=rel.version,
                deployment=f"{rel.service}/{env}/{number}",
            ),
        )
        yield


def demo_history(start: datetime, *, run: str = "demo") -> list[Batch]:
    """The demo history starting at ``start``: four releases, one bad, a midnight incident.

    ``run`` prefixes every event id, so several histories can share one ledger.
    """
    rec = _Recorder(start, run)
    for number, rel in enumerate(RELEASES, start=1):
        for _ in _release(rec, rel, number):
            rec.tick(60 * 7)
    # The bad release reached production; at 00:12 the next night, payments fail.
    rec.now = rec.now.replace(hour=0, minute=12, second=0) + timedelta(days=1)
    ops = CiContext(actor="oncall-olga")
    rec.step(
        "record incident",
        [
            records.incident_event(
                rec.origin(ops),
                service="payments",
                environment="production",
                title="Card payments time out (pool exhausted)",
                status="opened",
                severity="critical",
                incident="INC-7",
                url="https://status.acme.example/incidents/INC-7",
            )
        ],
    )
    rec.tick(14)
    good = RELEASES[2]
    artifact = _artifact(rec.run, "payments", good.version)
    rollback_ci = CiContext(actor="oncall-olga", run_id="payments-rollback-1", job="rollback")
    rec.step(
        "record deploy",
        records.deployment_events(
            rec.origin(rollback_ci),
            service="payments",
            environment="production",
            status="succeeded",
            artifact=artifact,
            version=good.version,
            reason="rollback after INC-7",
            deployment="payments/production/rollback-1",
        ),
    )
    rec.tick(20)
    rec.step(
        "record incident",
        [
            records.incident_event(
                rec.origin(ops),
                service="payments",
                environment="production",
                title="Card payments time out (pool exhausted)",
                status="resolved",
                incident="INC-7",
            )
        ],
    )
    return rec.batches
