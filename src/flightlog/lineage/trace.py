"""trace and diff: what runs somewhere, the chain behind it, and what changed between two deployments.

Pure over a :class:`LineageReader`; every fact keeps its ledger ``index`` so it can be
proven. Gaps (no tests, failed tests, critical vulnerabilities, self-approval, no
approval) are listed, never left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flightlog.errors import UnknownName
from flightlog.lineage.port import Fact, FactsRead, LineageReader
from flightlog.lineage.resolve import (
    check_target,
    deployment_named,
    nearest,
    split_target,
)
from flightlog.timestamps import parse_timestamp

__all__ = ["changes_between", "diff", "gaps_of", "trace"]


def _deployment_doc(reader: LineageReader, fact: Fact | None) -> dict[str, Any] | None:
    if fact is None:
        return None
    started = reader.facts(
        "deployments",
        {"deployment": fact["deployment"], "status": "started"},
        upto=fact["idx"],
        newest_first=True,
        limit=1,
    )
    seconds = None
    if started:
        seconds = (
            parse_timestamp(fact["time_utc"]) - parse_timestamp(started[0]["time_utc"])
        ).total_seconds()
    return {
        "index": fact["idx"],
        "id": fact["deployment"],
        "service": fact["service"],
        "environment": fact["environment"],
        "artifact": fact["artifact"],
        "version": fact["version"],
        "status": fact["status"],
        "deployer": fact["actor"],
        "time": fact["time_utc"],
        "started_index": started[0]["idx"] if started else None,
        "duration_seconds": seconds,
        "reason": fact["reason"],
    }


def _commit_of(reader: LineageReader, deployment: Fact | None) -> tuple[str | None, Fact | None]:
    """The commit a deployment's artifact was built from, and the push that recorded it."""
    if deployment is None:
        return None, None
    commit = deployment.get("commit")
    if deployment.get("artifact"):
        builds = reader.facts(
            "builds", {"artifact": deployment["artifact"]}, newest_first=True, limit=1
        )
        if builds and builds[0]["commit"]:
            commit = builds[0]["commit"]
    if not commit:
        return None, None
    pushes = reader.facts("changes", {"kind": "commit", "key": commit}, limit=1)
    return commit, pushes[0] if pushes else None


def pushes_read(reader: LineageReader, older: Fact | None, newer: Fact) -> FactsRead | None:
    """The read of ``changes`` that :func:`pushes_between` asks (None: no push to ask for)."""
    _, head = _commit_of(reader, newer)
    if head is None:
        return None
    _, base = _commit_of(reader, older)
    after = base["idx"] if base is not None and base["repo"] == head["repo"] else None
    return FactsRead(
        {"kind": "commit", "repo": head["repo"]},
        after=after,
        upto=head["idx"],
        newest_first=True,
        limit=500 if after is not None else 50,
    )


def pushes_between(reader: LineageReader, older: Fact | None, newer: Fact) -> list[Fact]:
    """The pushes of the commits ``newer`` carries that ``older`` did not, in ledger order."""
    read = pushes_read(reader, older, newer)
    if read is None:
        return []
    pushed = reader.facts(
        "changes",
        read.where,
        after=read.after,
        upto=read.upto,
        newest_first=read.newest_first,
        limit=read.limit,
    )
    pushed.reverse()
    return pushed


def changes_between(reader: LineageReader, older: Fact | None, newer: Fact) -> list[dict[str, Any]]:
    """The commits ``newer`` carries that ``older`` did not (pushes to the same repo between)."""
    pushed = pushes_between(reader, older, newer)
    refs = reader.refs_of([p["idx"] for p in pushed], ("system", "ticket"))
    commits = []
    for push in pushed:
        own = refs.get(push["idx"], [])
        prs = _pull_requests(reader, push["key"])
        commits.append(
            {
                "index": push["idx"],
                "sha": push["key"],
                "repo": push["repo"],
                "author": push["author"],
                "message": push["title"],
                "url": push["url"],
                "time": push["time_utc"],
                "tickets": sorted(
                    {v for k, v in own if k == "ticket"} | {t for pr in prs for t in pr["tickets"]}
                ),
                "systems": sorted({v for k, v in own if k == "system"}),
                "changes": prs,
            }
        )
    return commits


def _pull_requests(reader: LineageReader, sha: str) -> list[dict[str, Any]]:
    """The PRs/MRs that name a commit, with their author, reviews and tickets."""
    keys: dict[str, None] = {}
    indices = reader.indices_with("commit", sha)
    for row in reader.facts_at("changes", indices):
        if row["kind"] == "change":
            keys.setdefault(row["key"], None)
    found = []
    for key in keys:
        rows = reader.facts("changes", {"kind": "change", "key": key}, limit=100)
        refs = reader.refs_of([r["idx"] for r in rows], ("ticket",))
        found.append(
            {
                "index": rows[0]["idx"],
                "id": key,
                "title": next((r["title"] for r in rows if r["title"]), None),
                "author": next((r["author"] for r in rows if r["author"]), None),
                "url": next((r["url"] for r in rows if r["url"]), None),
                "merged": any(r["verb"] == "merged" for r in rows),
                "reviews": [
                    {"index": r["idx"], "reviewer": r["reviewer"], "verdict": r["verdict"]}
                    for r in rows
                    if r["verb"] == "reviewed"
                ],
                "tickets": sorted({v for r in rows for k, v in refs[r["idx"]] if k == "ticket"}),
            }
        )
    return found


def _build_doc(fact: Fact) -> dict[str, Any]:
    return {
        "index": fact["idx"],
        "artifact": fact["artifact"],
        "commit": fact["commit"],
        "by": fact["actor"],
        "time": fact["time_utc"],
        "pipeline_run": fact["pipeline_run"],
        "url": fact["run_url"],
        "version": fact["version"],
    }


def _test_doc(fact: Fact) -> dict[str, Any]:
    keys = ("outcome", "tests", "failures", "errors", "skipped", "environment", "suite")
    return {"index": fact["idx"], "time": fact["time_utc"], **{k: fact[k] for k in keys}}


def _scan_doc(fact: Fact) -> dict[str, Any]:
    counts = {s: fact[s] for s in ("critical", "high", "medium", "low")}
    return {
        "index": fact["idx"],
        "time": fact["time_utc"],
        "tool": fact["tool"],
        "counts": counts,
        "worst": fact["worst"],
    }


def _approval_doc(fact: Fact) -> dict[str, Any]:
    return {
        "index": fact["idx"],
        "time": fact["time_utc"],
        "approver": fact["approver"],
        "granted": bool(fact["granted"]),
        "environment": fact["environment"],
        "change": fact["change"],
    }


def gaps_of(
    tests: Sequence[dict[str, Any]],
    scans: Sequence[dict[str, Any]],
    approvals: Sequence[dict[str, Any]],
    commits: Sequence[dict[str, Any]],
) -> list[dict[str, Any]]:
    """What the chain lacks or shows wrong, each with a code and one sentence."""
    gaps: list[dict[str, Any]] = []
    if not tests:
        gaps.append({"code": "no_tests", "detail": "no test run recorded for this artifact"})
    elif any(t["outcome"] != "success" for t in tests):
        failed = [t for t in tests if t["outcome"] != "success"]
        gaps.append(
            {
                "code": "tests_failed",
                "detail": f"{len(failed)} test run(s) failed "
                f"({sum(t['failures'] + t['errors'] for t in failed)} failing tests)",
                "indices": [t["index"] for t in failed],
            }
        )
    critical = [s for s in scans if s["counts"]["critical"]]
    if critical:
        gaps.append(
            {
                "code": "critical_vulnerabilities",
                "detail": f"shipped with {sum(s['counts']['critical'] for s in critical)} "
                f"critical vulnerabilit{'y' if len(critical) == 1 else 'ies'}: "
                f"{critical[0]['worst']}",
                "indices": [s["index"] for s in critical],
            }
        )
    granted = [a for a in approvals if a["granted"]]
    if not granted:
        gaps.append({"code": "no_approval", "detail": "deployed without a recorded approval"})
    authors = {c["author"] for c in commits if c["author"]} | {
        pr["author"] for c in commits for pr in c["changes"] if pr["author"]
    }
    selfish = [a for a in granted if a["approver"] in authors]
    if selfish:
        gaps.append(
            {
                "code": "self_approval",
                "detail": f"approved by {selfish[0]['approver']}, an author of the change "
                "(separation of duties)",
                "indices": [a["index"] for a in selfish],
            }
        )
    return gaps


def _first_deployed(reader: LineageReader, deployment: Fact) -> Fact | None:
    """The earlier successful deployment that first brought this artifact to the same place.

    None unless ``deployment`` brings back (a rollback) or redeploys an artifact that
    already ran there.
    """
    if not deployment["artifact"]:
        return None
    where = {
        "environment": deployment["environment"],
        "service": deployment["service"],
        "artifact": deployment["artifact"],
        "status": "success",
    }
    first = reader.facts("deployments", where, upto=deployment["idx"] - 1, limit=1)
    return first[0] if first else None


def chain(
    reader: LineageReader, deployment: Fact, previous: Fact | None, *, follow_back: bool = False
) -> dict[str, Any]:
    """The whole chain behind one deployment.

    With ``follow_back``, a deployment that brings back an artifact which already ran
    there (a rollback) shows the commits that artifact brought when it was first
    deployed there, instead of none (its commits are older than the previous one's).
    """
    artifact = deployment["artifact"]
    builds = reader.facts("builds", {"artifact": artifact}) if artifact else []
    commit, _ = _commit_of(reader, deployment)
    tests = reader.facts("test_runs", {"artifact": artifact}) if artifact else []
    if commit:
        seen = {t["idx"] for t in tests}
        tests += [t for t in reader.facts("test_runs", {"commit": commit}) if t["idx"] not in seen]
    scans = reader.facts("scans", {"artifact": artifact}) if artifact else []
    approvals = [
        a
        for a in (reader.facts("approvals", {"artifact": artifact}) if artifact else [])
        if a["environment"] in (None, deployment["environment"]) and a["idx"] < deployment["idx"]
    ]
    returned = _first_deployed(reader, deployment) if follow_back else None
    if returned is None:
        commits = changes_between(reader, previous, deployment)
    else:
        commits = changes_between(reader, _previous(reader, returned), returned)
    test_docs = [_test_doc(t) for t in sorted(tests, key=lambda t: t["idx"])]
    scan_docs = [_scan_doc(s) for s in scans]
    approval_docs = [_approval_doc(a) for a in approvals]
    return {
        "deployment": _deployment_doc(reader, deployment),
        "previous": _deployment_doc(reader, previous),
        "brings_back": _deployment_doc(reader, returned),
        "artifact": artifact,
        "commit": commit,
        "builds": [_build_doc(b) for b in builds],
        "commits": commits,
        "tests": test_docs,
        "scans": scan_docs,
        "approvals": approval_docs,
        "gaps": gaps_of(test_docs, scan_docs, approval_docs, commits),
    }


def _previous(reader: LineageReader, deployment: Fact) -> Fact | None:
    found = reader.facts(
        "deployments",
        {
            "environment": deployment["environment"],
            "service": deployment["service"],
            "status": "success",
        },
        upto=deployment["idx"] - 1,
        newest_first=True,
        limit=1,
    )
    return found[0] if found else None


def _no_deployment(
    reader: LineageReader, env: str, service: str, *, at_utc: str | None, artifact: str | None
) -> UnknownName:
    """Why no deployment answers, with what exists instead: artifacts, or the first time."""
    where = {"environment": env, "service": service, "status": "success"}
    of = f" of {artifact}" if artifact else ""
    message = f"no successful deployment{of} of {service} in {env}"
    if artifact is not None:
        known = [f["artifact"] for f in reader.facts("deployments", where, newest_first=True)]
        if artifact not in known:
            return UnknownName(f"{message}; {nearest(artifact, list(dict.fromkeys(known)))}")
        where["artifact"] = artifact
    first = reader.facts("deployments", where, limit=1)
    when = f" at {at_utc}" if at_utc else ""
    since = f"; the first was at {first[0]['time_utc']}" if first else ""
    return UnknownName(f"{message}{when}{since}")


def trace(
    reader: LineageReader,
    target: str,
    *,
    at_utc: str | None = None,
    deployment: str | None = None,
    artifact: str | None = None,
) -> dict[str, Any]:
    """What runs in ``ENV/SERVICE`` now (or at ``at_utc``, or a named deployment/artifact)."""
    env, service = split_target(target)
    check_target(reader, env, service)
    if deployment is not None:
        current = deployment_named(reader, env, service, deployment)
    else:
        where = {"environment": env, "service": service, "status": "success"}
        if artifact is not None:
            where["artifact"] = artifact
        found = reader.facts("deployments", where, until_utc=at_utc, newest_first=True, limit=1)
        if not found:
            raise _no_deployment(reader, env, service, at_utc=at_utc, artifact=artifact)
        current = found[0]
    return {
        "target": f"{env}/{service}",
        "at": at_utc,
        **chain(reader, current, _previous(reader, current), follow_back=True),
    }


def diff(reader: LineageReader, target: str, older: str, newer: str) -> dict[str, Any]:
    """The commits, authors, tickets and systems between two deployments of ``ENV/SERVICE``."""
    env, service = split_target(target)
    check_target(reader, env, service)
    a = deployment_named(reader, env, service, older)
    b = deployment_named(reader, env, service, newer)
    if a["idx"] > b["idx"]:
        a, b = b, a
    commits = changes_between(reader, a, b)
    return {
        "target": f"{env}/{service}",
        "from": _deployment_doc(reader, a),
        "to": _deployment_doc(reader, b),
        **summary_of(commits),
    }


def summary_of(commits: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Commits with their authors, tickets and systems gathered."""
    return {
        "commits": list(commits),
        "authors": sorted({c["author"] for c in commits if c["author"]}),
        "tickets": sorted({t for c in commits for t in c["tickets"]}),
        "systems": sorted({s for c in commits for s in c["systems"]}),
    }
