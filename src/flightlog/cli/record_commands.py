"""``flightlog record build|test|scan|approve|deploy|incident``: one line per pipeline step.

Each command reads its report or flags, detects the CI context from the environment
(docs/ci.md; flags override), builds the events and records them all or nothing through
the same backend as ``record event`` (the local store, or ``--server``).
"""

# The CI flags are declared on every command for Typer and read once, from ctx.params.
# ruff: noqa: ARG001

from __future__ import annotations

import os
import platform
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from flightlog.cli.context import (
    console,
    err_console,
    line,
    open_ledger,
    print_json,
    reported_errors,
    state_of,
    styled,
)
from flightlog.config import max_report_bytes
from flightlog.errors import InputError, InputTooLarge
from flightlog.timestamps import utc_now

if TYPE_CHECKING:
    from flightlog.client.spool import FlushReport
    from flightlog.pipeline.records import Origin

_CI = "CI context (overrides what is read from the CI's environment)"
REPO = typer.Option(None, "--repo", help="Repository.", rich_help_panel=_CI)
COMMIT = typer.Option(None, "--commit", help="Commit SHA.", rich_help_panel=_CI)
BRANCH = typer.Option(None, "--branch", help="Branch.", rich_help_panel=_CI)
RUN = typer.Option(None, "--pipeline-run", help="Pipeline run id.", rich_help_panel=_CI)
RUN_URL = typer.Option(None, "--run-url", help="Pipeline run URL.", rich_help_panel=_CI)
JOB = typer.Option(None, "--job", help="CI job.", rich_help_panel=_CI)
ACTOR = typer.Option(None, "--actor", help="Who ran the step.", rich_help_panel=_CI)
SOURCE = typer.Option(
    None, "--source", help="Event source URI (default: the run URL).", rich_help_panel=_CI
)
AS_JSON = typer.Option(False, "--json", help="Print what was recorded as JSON.")
STRICT = typer.Option(
    False,
    "--strict",
    envvar="FLIGHTLOG_STRICT",
    help="Fail the step when the server is unavailable, instead of spooling it.",
)
ARTIFACT = typer.Option(None, "--artifact", help="Artifact: purl or OCI digest.")


def _max_report_bytes() -> int:
    """The report size limit: FLIGHTLOG_MAX_REPORT_BYTES, else the default."""
    return max_report_bytes(os.environ)


def _read_report(path: Path, limit: int) -> bytes:
    """Read one report file, refusing a missing or oversized one."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    size = path.stat().st_size
    if size > limit:
        raise InputTooLarge(f"{path}: {size} bytes exceed the report limit of {limit}")
    return path.read_bytes()


def _origin(ctx: typer.Context) -> Origin:
    """A fresh event id and time, with the CI context detected and overridden by the flags."""
    from flightlog.pipeline.ci import detect_ci
    from flightlog.pipeline.records import Origin

    flags = ctx.params
    ci = detect_ci(os.environ).override(
        repository=flags.get("repo"),
        commit=flags.get("commit"),
        branch=flags.get("branch"),
        run_id=flags.get("run"),
        run_url=flags.get("run_url"),
        job=flags.get("job"),
        actor=flags.get("actor"),
    )
    now = utc_now()
    return Origin(event_id=str(uuid.uuid4()), timestamp=now, ci=ci, source=flags.get("source"))


@dataclass(frozen=True)
class _Recorded:
    """Where a step's events went: their ledger indices, or a spool file."""

    indexes: list[int | None]
    spooled: Path | None = None

    def at(self, number: int = 0) -> str:
        """Say where event ``number`` went."""
        if self.spooled is not None:
            return (
                "spooled: the server is unavailable (sent by the next record or `flightlog flush`)"
            )
        return f"recorded at index {self.indexes[number]}"


def _warn(message: str) -> None:
    err_console.print(line(styled("warning:", "bold yellow"), " ", message), soft_wrap=True)


def _record(
    ctx: typer.Context,
    events: list[dict[str, Any]],
    blobs: Sequence[tuple[bytes, str]] = (),
) -> _Recorded:
    """Keep ``blobs``, then record ``events`` all or nothing; spool them if the server is down.

    Through a server, steps spooled earlier are sent first. When the server is unreachable
    or answers 5xx the step is spooled (same event ids, so a resend never doubles it) and
    the command warns instead of failing, unless ``--strict``.
    """
    from flightlog.client.spool import Spool, SpooledStep, record_step
    from flightlog.errors import FlightlogError, ServerUnavailable

    step = SpooledStep(events=tuple(events), blobs=tuple(blobs))
    st = state_of(ctx)
    if not st.server:
        with open_ledger(ctx, write=True) as ledger:
            return _Recorded(list(record_step(ledger, step, "<record>")))
    spool = Spool.of_home(st.settings().home)
    with open_ledger(ctx, write=True) as ledger:
        earlier = spool.flush(ledger)
        report_flush(earlier)
        failure = earlier.stopped
        if not isinstance(failure, ServerUnavailable):
            try:
                return _Recorded(list(record_step(ledger, step, "<record>")))
            except ServerUnavailable as exc:
                failure = exc
    if ctx.params.get("strict"):
        raise ServerUnavailable(f"{failure}; nothing was recorded or spooled (--strict)")
    try:
        path = spool.add(events, blobs, server=st.server)
    except OSError as exc:
        raise FlightlogError(
            f"{failure}; and the step could not be spooled to {spool.directory}: {exc}"
        ) from None
    _warn(
        f"{failure}; {len(events)} event(s) spooled to {path}, sent by the next "
        "`flightlog record` or by `flightlog flush`"
    )
    return _Recorded([None] * len(events), spooled=path)


def report_flush(report: FlushReport) -> None:
    """Warn about spooled steps sent, refused or still waiting."""
    if report.sent:
        events = sum(len(indexes) for _, indexes in report.sent)
        _warn(f"sent {len(report.sent)} spooled step(s) ({events} event(s)) to the server")
    for path, reason in report.rejected:
        _warn(
            f"the server refused the spooled {path.name}; moved to {path.parent}/rejected: {reason}"
        )
    if report.remaining and report.stopped is not None:
        _warn(f"{report.remaining} spooled step(s) still waiting: {report.stopped}")


def _say(
    as_json: bool,
    payload: dict[str, Any] | list[dict[str, Any]],
    text: str,
    recorded: _Recorded,
) -> None:
    """Print the JSON payload (naming the spool file of a spooled step), or one human line."""
    if recorded.spooled is not None:
        for item in payload if isinstance(payload, list) else [payload]:
            item["spooled"] = str(recorded.spooled)
    if as_json:
        print_json(payload)
    else:
        console.print(text, highlight=False, soft_wrap=True)


def _conditions(values: list[str]) -> dict[str, str]:
    """Parse ``--condition k=v`` flags."""
    found: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--condition {value!r}: expected KEY=VALUE")
        found[key.strip()] = val.strip()
    return found


def record_build(
    ctx: typer.Context,
    artifact: str = typer.Option(..., "--artifact", help="Artifact built: purl or OCI digest."),
    version: str | None = typer.Option(None, "--version", help="Version of the artifact."),
    repo: str | None = REPO,
    commit: str | None = COMMIT,
    branch: str | None = BRANCH,
    run: str | None = RUN,
    run_url: str | None = RUN_URL,
    job: str | None = JOB,
    actor: str | None = ACTOR,
    source: str | None = SOURCE,
    as_json: bool = AS_JSON,
    strict: bool = STRICT,
) -> None:
    """Record a finished build and the artifact it published."""
    from flightlog.pipeline import records

    with reported_errors():
        origin = _origin(ctx)
        done = _record(ctx, records.build_events(origin, artifact=artifact, version=version))
    indexes = done.indexes
    _say(
        as_json,
        {"artifact": artifact, "version": version, "index": indexes[0], "indexes": indexes},
        f"build of {artifact} {done.at()}",
        done,
    )


def record_test(
    ctx: typer.Context,
    junit: list[Path] = typer.Option(..., "--junit", help="JUnit XML report (repeatable)."),
    env: str | None = typer.Option(None, "--env", help="Environment the tests ran in."),
    artifact: str | None = ARTIFACT,
    condition: list[str] = typer.Option(
        [], "--condition", help="A condition the tests ran under, KEY=VALUE (repeatable)."
    ),
    repo: str | None = REPO,
    commit: str | None = COMMIT,
    branch: str | None = BRANCH,
    run: str | None = RUN,
    run_url: str | None = RUN_URL,
    job: str | None = JOB,
    actor: str | None = ACTOR,
    source: str | None = SOURCE,
    as_json: bool = AS_JSON,
    strict: bool = STRICT,
) -> None:
    """Record a test run from JUnit XML: totals, failing tests, conditions and outcome."""
    from flightlog.evidence import TestSummary, parse_tests
    from flightlog.pipeline import records

    with reported_errors():
        limit = _max_report_bytes()
        summaries, reports, blobs = [], [], []
        for path in junit:
            data = _read_report(path, limit)
            summaries.append(parse_tests(data, name=str(path), max_bytes=limit))
            report = records.ReportFile.of(path.name, data, summaries[-1].format)
            reports.append(report)
            blobs.append(report.blob(data))
        summary = TestSummary.combine(summaries)
        origin = _origin(ctx)
        event = records.suite_run_event(
            origin,
            summary,
            reports,
            environment=env,
            artifact=artifact,
            conditions=_conditions(condition),
            os_name=platform.system() or None,
            arch=platform.machine() or None,
        )
        done = _record(ctx, [event], blobs)
    index = done.indexes[0]
    _say(
        as_json,
        {
            "tests": summary.tests,
            "failures": summary.failures,
            "errors": summary.errors,
            "skipped": summary.skipped,
            "duration": summary.duration,
            "outcome": summary.outcome,
            "index": index,
            "reports": [r.as_dict() for r in reports],
        },
        f"{summary.outcome}: {summary.tests} tests, {summary.failures} failures, "
        f"{summary.errors} errors, {summary.skipped} skipped; {done.at()}",
        done,
    )


def record_scan(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="Security reports."),
    artifact: str | None = typer.Option(
        None, "--artifact", help="Scanned artifact: purl or OCI digest (default: the report's)."
    ),
    format_: str | None = typer.Option(
        None, "--format", help="sarif, cyclonedx, trivy or grype (default: detected)."
    ),
    env: str | None = typer.Option(None, "--env", help="Environment the artifact was scanned in."),
    repo: str | None = REPO,
    commit: str | None = COMMIT,
    branch: str | None = BRANCH,
    run: str | None = RUN,
    run_url: str | None = RUN_URL,
    job: str | None = JOB,
    actor: str | None = ACTOR,
    source: str | None = SOURCE,
    as_json: bool = AS_JSON,
    strict: bool = STRICT,
) -> None:
    """Record security scans (SARIF, CycloneDX, Trivy, Grype): counts by severity and findings."""
    from flightlog.evidence import parse_scan
    from flightlog.pipeline import records

    with reported_errors():
        limit = _max_report_bytes()
        origin = _origin(ctx)
        scans, events, blobs = [], [], []
        for number, path in enumerate(files):
            data = _read_report(path, limit)
            summary = parse_scan(data, name=str(path), format=format_, max_bytes=limit)
            report = records.ReportFile.of(path.name, data, summary.format)
            blobs.append(report.blob(data))
            # One event per report; each needs its own id within the one step.
            per_file = records.Origin(
                event_id=f"{origin.event_id}-{number}" if len(files) > 1 else origin.event_id,
                timestamp=origin.timestamp,
                ci=origin.ci,
                source=origin.source,
            )
            events.append(
                records.scan_event(per_file, summary, report, artifact=artifact, environment=env)
            )
            scans.append(summary)
        done = _record(ctx, events, blobs)
    results = [
        {
            "tool": s.tool,
            "format": s.format,
            "artifact": e["subject"]["content"]["artifactId"],
            "counts": s.counts.as_dict(),
            "findings": len(s.findings),
            "index": i,
        }
        for s, e, i in zip(scans, events, done.indexes, strict=True)
    ]
    lines = "\n".join(
        f"{r['tool']} ({r['format']}): "
        + ", ".join(f"{n} {k}" for k, n in r["counts"].items())
        + f"; {done.at(number)}"
        for number, r in enumerate(results)
    )
    _say(as_json, results[0] if len(results) == 1 else results, lines, done)


def record_approve(
    ctx: typer.Context,
    approver: str = typer.Option(..., "--approver", help="Who decided."),
    granted: bool = typer.Option(False, "--granted", help="The approval was granted."),
    rejected: bool = typer.Option(False, "--rejected", help="The approval was rejected."),
    artifact: str | None = ARTIFACT,
    change: str | None = typer.Option(None, "--change", help="Change (PR/MR) id."),
    deployment: str | None = typer.Option(None, "--deployment", help="Deployment id."),
    env: str | None = typer.Option(None, "--env", help="Environment the approval is for."),
    comment: str | None = typer.Option(None, "--comment", help="Why."),
    repo: str | None = REPO,
    commit: str | None = COMMIT,
    branch: str | None = BRANCH,
    run: str | None = RUN,
    run_url: str | None = RUN_URL,
    job: str | None = JOB,
    actor: str | None = ACTOR,
    source: str | None = SOURCE,
    as_json: bool = AS_JSON,
    strict: bool = STRICT,
) -> None:
    """Record an approval granted or rejected for an artifact, a change or a deployment."""
    from flightlog.pipeline import records

    with reported_errors():
        if granted == rejected:
            raise InputError("give exactly one of --granted and --rejected")
        targets = [t for t in (artifact, change, deployment) if t is not None]
        if len(targets) != 1:
            raise InputError("give exactly one of --artifact, --change and --deployment")
        origin = _origin(ctx)
        event = records.approval_event(
            origin,
            approver=approver,
            granted=granted,
            artifact=artifact,
            change=change,
            deployment=deployment,
            environment=env,
            comment=comment,
        )
        done = _record(ctx, [event])
    decision = "granted" if granted else "rejected"
    _say(
        as_json,
        {
            "decision": decision,
            "approver": approver,
            "target": targets[0],
            "index": done.indexes[0],
        },
        f"approval {decision} by {approver} for {targets[0]} {done.at()}",
        done,
    )


def record_deploy(
    ctx: typer.Context,
    service: str = typer.Option(..., "--service", help="Service deployed."),
    env: str = typer.Option(..., "--env", help="Environment deployed to."),
    status: str = typer.Option(..., "--status", help="started, succeeded or failed."),
    artifact: str | None = ARTIFACT,
    version: str | None = typer.Option(None, "--version", help="Version deployed."),
    reason: str | None = typer.Option(None, "--reason", help="Why it failed."),
    deployment: str | None = typer.Option(
        None, "--id", help="Deployment id (default: service/env/pipeline run)."
    ),
    repo: str | None = REPO,
    commit: str | None = COMMIT,
    branch: str | None = BRANCH,
    run: str | None = RUN,
    run_url: str | None = RUN_URL,
    job: str | None = JOB,
    actor: str | None = ACTOR,
    source: str | None = SOURCE,
    as_json: bool = AS_JSON,
    strict: bool = STRICT,
) -> None:
    """Record a deployment that started, succeeded or failed."""
    from flightlog.pipeline import records

    with reported_errors():
        if status not in ("started", "succeeded", "failed"):
            raise InputError(f"--status {status!r}: expected started, succeeded or failed")
        if artifact is None and version is None:
            raise InputError("give --artifact or --version")
        origin = _origin(ctx)
        events = records.deployment_events(
            origin,
            service=service,
            environment=env,
            status=status,  # type: ignore[arg-type]  # checked above
            artifact=artifact,
            version=version,
            reason=reason,
            deployment=deployment,
        )
        done = _record(ctx, events)
    indexes = done.indexes
    _say(
        as_json,
        {
            "service": service,
            "environment": env,
            "status": status,
            "deployment": events[0]["subject"]["id"],
            "index": indexes[0],
            "indexes": indexes,
        },
        f"deployment of {service} to {env} {status}; {done.at()}",
        done,
    )


def record_incident(
    ctx: typer.Context,
    service: str = typer.Option(..., "--service", help="Service affected."),
    env: str = typer.Option(..., "--env", help="Environment affected."),
    title: str = typer.Option(..., "--title", help="What happened."),
    status: str = typer.Option(..., "--status", help="opened or resolved."),
    severity: str | None = typer.Option(None, "--severity", help="Severity (e.g. SEV2)."),
    url: str | None = typer.Option(None, "--url", help="Incident or ticket URL."),
    incident: str | None = typer.Option(
        None, "--id", help="Incident id (default: derived from service, env and title)."
    ),
    artifact: str | None = ARTIFACT,
    repo: str | None = REPO,
    commit: str | None = COMMIT,
    branch: str | None = BRANCH,
    run: str | None = RUN,
    run_url: str | None = RUN_URL,
    job: str | None = JOB,
    actor: str | None = ACTOR,
    source: str | None = SOURCE,
    as_json: bool = AS_JSON,
    strict: bool = STRICT,
) -> None:
    """Record an incident opened or resolved."""
    from flightlog.pipeline import records

    with reported_errors():
        if status not in ("opened", "resolved"):
            raise InputError(f"--status {status!r}: expected opened or resolved")
        origin = _origin(ctx)
        event = records.incident_event(
            origin,
            service=service,
            environment=env,
            title=title,
            status=status,  # type: ignore[arg-type]  # checked above
            severity=severity,
            url=url,
            incident=incident,
            artifact=artifact,
        )
        done = _record(ctx, [event])
    _say(
        as_json,
        {
            "service": service,
            "environment": env,
            "status": status,
            "incident": event["subject"]["id"],
            "type": event["context"]["type"],
            "index": done.indexes[0],
        },
        f"incident {status} for {service} in {env}; {done.at()}",
        done,
    )


def register(record_app: typer.Typer) -> None:
    """Add these commands to the ``record`` group."""
    record_app.command("build")(record_build)
    record_app.command("test")(record_test)
    record_app.command("scan")(record_scan)
    record_app.command("approve")(record_approve)
    record_app.command("deploy")(record_deploy)
    record_app.command("incident")(record_incident)
