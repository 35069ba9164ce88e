"""suspects: the deployments before an incident, ranked, each with its reasons and diff.

Scores add up named reasons (recency, failed or missing tests, new critical
vulnerabilities, self-approval, no approval, size of the change, systems overlapping the
incident's service) so the ranking explains itself.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flightlog.lineage.port import Fact, FactsRead, LineageReader
from flightlog.lineage.prefetch import Prefetched
from flightlog.lineage.resolve import check_name, check_target
from flightlog.lineage.trace import _commit_of as commit_of
from flightlog.lineage.trace import chain, pushes_between, pushes_read, summary_of
from flightlog.timestamps import format_timestamp, parse_timestamp

__all__ = ["suspects"]

# Points per reason; recency adds up to RECENCY points, falling linearly over the window.
RECENCY = 3.0
POINTS = {
    "tests_failed": 3.0,
    "no_tests": 2.0,
    "critical_vulnerabilities": 2.0,
    "self_approval": 1.5,
    "no_approval": 1.0,
    "same_service": 2.0,
    "system_overlap": 1.0,
}
LARGE_CHANGE = 5  # commits
EARLIER = 10  # earlier deployments looked at for the previous one and the last good one
# Rollback candidates whose chains are read in bulk: the last good one is most often among
# the first few; any later one asked for is read on its own.
LOADED_CANDIDATES = 3


def _earlier(reader: LineageReader, fact: Fact) -> list[Fact]:
    """The ten latest successful deployments of the same service and place before ``fact``."""
    return reader.facts(
        "deployments",
        {"environment": fact["environment"], "service": fact["service"], "status": "success"},
        upto=fact["idx"] - 1,
        newest_first=True,
        limit=EARLIER,
    )


def _earlier_all(reader: LineageReader, deployed: list[Fact]) -> dict[int, list[Fact]]:
    """:func:`_earlier` of every deployment: one read per service and place, all at once.

    The newest successes before the latest deployment of a service and place hold, for
    each of its deployments, a prefix of the successes before it: where that prefix has
    ten, or the read found every success there is, it is the answer; otherwise (more
    deployments in between than the read took) that deployment is asked on its own.
    """
    groups: dict[tuple[str, str], list[Fact]] = {}
    for fact in deployed:
        groups.setdefault((fact["environment"], fact["service"]), []).append(fact)
    reads = [
        FactsRead(
            {"environment": environment, "service": service, "status": "success"},
            upto=max(f["idx"] for f in facts) - 1,
            newest_first=True,
            limit=min(200, EARLIER + 2 * len(facts)),
        )
        for (environment, service), facts in groups.items()
    ]
    out: dict[int, list[Fact]] = {}
    found = reader.facts_each("deployments", reads)
    for facts, read, rows in zip(groups.values(), reads, found, strict=True):
        for fact in facts:
            below = [r for r in rows if r["idx"] < fact["idx"]]
            whole = len(below) >= EARLIER or len(rows) < read.limit
            out[fact["idx"]] = below[:EARLIER] if whole else _earlier(reader, fact)
    return out


def _shipped_broken(reader: LineageReader, fact: Fact) -> bool:
    """Whether the chain of ``fact`` shows failed tests or critical vulnerabilities."""
    artifact = fact["artifact"]
    if artifact and any(s["critical"] for s in reader.facts("scans", {"artifact": artifact})):
        return True
    tests = reader.facts("test_runs", {"artifact": artifact}) if artifact else []
    commit, _ = commit_of(reader, fact)
    if commit:
        tests += reader.facts("test_runs", {"commit": commit})
    return any(t["outcome"] != "success" for t in tests)


def _last_good(reader: LineageReader, fact: Fact, earlier: list[Fact]) -> dict[str, Any] | None:
    """The latest earlier successful deployment of another artifact whose chain shows no gap."""
    for candidate in earlier:
        if candidate["artifact"] == fact["artifact"]:
            continue
        if not _shipped_broken(reader, candidate):
            return {
                "index": candidate["idx"],
                "id": candidate["deployment"],
                "version": candidate["version"],
                "artifact": candidate["artifact"],
                "time": candidate["time_utc"],
            }
    return None


def _load(reader: Prefetched, shown: list[Fact], candidates: list[Fact]) -> None:
    """Read in bulk what the chains of the ``shown`` deployments (suspects and the ones
    before them) show: starts, builds, tests, scans, approvals, pushes; and what telling a
    good rollback ``candidate`` asks: builds, tests, scans, pushes."""
    reader.load("deployments", "deployment", {d["deployment"] for d in shown})
    reader.load("approvals", "artifact", {d["artifact"] for d in shown})
    artifacts = {d["artifact"] for d in shown + candidates}
    for table in ("builds", "test_runs", "scans"):
        reader.load(table, "artifact", artifacts)
    commits = {d["commit"] for d in shown + candidates}
    for artifact in artifacts:
        if artifact:
            commits.update(b["commit"] for b in reader.facts("builds", {"artifact": artifact}))
    reader.load("changes", "key", commits)
    reader.load("test_runs", "commit", commits)


def _load_pulls(reader: Prefetched, pairs: list[tuple[Fact, Fact | None]]) -> None:
    """Read the pushes each deployment carries, the pull requests of their commits, and
    the refs they show, in bulk."""
    reads = [pushes_read(reader, previous, fact) for fact, previous in pairs]
    reader.facts_each("changes", [r for r in reads if r is not None])
    pushes = [p for fact, previous in pairs for p in pushes_between(reader, previous, fact)]
    shas = {p["key"] for p in pushes}
    reader.load_with("commit", shas)
    stating = {i for sha in shas for i in reader.indices_with("commit", sha)}
    reader.load_at("changes", stating)
    keys = {r["key"] for r in reader.facts_at("changes", sorted(stating)) if r["kind"] == "change"}
    reader.load("changes", "key", keys)
    reader.refs_of([p["idx"] for p in pushes], ("system", "ticket"))
    rows = [reader.facts("changes", {"kind": "change", "key": k}, limit=100) for k in keys]
    reader.refs_of([r["idx"] for found in rows for r in found], ("ticket",))


def suspects(
    reader: LineageReader,
    *,
    environment: str,
    at_utc: str,
    window: timedelta,
    service: str | None = None,
) -> dict[str, Any]:
    """Deployments to ``environment`` (``service``) in ``window`` before ``at_utc``, ranked."""
    if service is not None:
        check_target(reader, environment, service)
    at = parse_timestamp(at_utc)
    since = format_timestamp(at - window)
    where: dict[str, str | None] = {"environment": environment}
    if service is not None:
        where["service"] = service
    incidents = reader.facts(
        "incidents",
        {"environment": environment, "status": "open"},
        since_utc=format_timestamp(at - timedelta(hours=1)),
        until_utc=format_timestamp(at + timedelta(hours=1)),
        limit=10,
    )
    incident = next((i for i in incidents if service in (None, i["service"])), None)
    hit_service = service or (incident["service"] if incident else None)
    ranked = []
    cached = Prefetched(reader)
    found = cached.facts("deployments", where, since_utc=since, until_utc=at_utc, limit=200)
    if service is None and not found:
        check_name(reader, "environment", environment)  # deployments found name it already
    deployed = [f for f in found if f["status"] != "started"]
    earlier = _earlier_all(cached, deployed)
    pairs = [(f, earlier[f["idx"]][0] if earlier[f["idx"]] else None) for f in deployed]
    shown = deployed + [p for _, p in pairs if p is not None]
    candidates = [e for f in deployed for e in earlier[f["idx"]][:LOADED_CANDIDATES]]
    _load(cached, shown, candidates)
    _load_pulls(cached, pairs)
    for fact, previous in pairs:
        facts = chain(cached, fact, previous)
        age = (at - parse_timestamp(fact["time_utc"])) / window
        reasons: list[dict[str, Any]] = [
            {
                "code": "recent",
                "points": round(RECENCY * (1 - age), 2),
                "detail": f"deployed {_ago(at - parse_timestamp(fact['time_utc']))} before",
            }
        ]
        if fact["status"] == "failure":
            reasons.append(
                {
                    "code": "deployment_failed",
                    "points": 1.0,
                    "detail": "the deployment itself failed",
                }
            )
        for gap in facts["gaps"]:
            reasons.append(
                {
                    "code": gap["code"],
                    "points": POINTS.get(gap["code"], 0.0),
                    "detail": gap["detail"],
                }
            )
        summary = summary_of(facts["commits"])
        if len(summary["commits"]) >= LARGE_CHANGE:
            reasons.append(
                {
                    "code": "large_change",
                    "points": 1.0,
                    "detail": f"{len(summary['commits'])} commits",
                }
            )
        if hit_service is not None and fact["service"] == hit_service:
            reasons.append(
                {
                    "code": "same_service",
                    "points": POINTS["same_service"],
                    "detail": f"deployed {hit_service}, where the incident is",
                }
            )
        elif hit_service is not None and hit_service in summary["systems"]:
            reasons.append(
                {
                    "code": "system_overlap",
                    "points": POINTS["system_overlap"],
                    "detail": f"touched the {hit_service} system",
                }
            )
        ranked.append(
            {
                "score": round(sum(r["points"] for r in reasons), 2),
                "deployment": facts["deployment"],
                "previous": facts["previous"],
                "reasons": reasons,
                "diff": summary,
                "rollback_to": _last_good(cached, fact, earlier[fact["idx"]]),
            }
        )
    ranked.sort(key=lambda s: (-s["score"], -s["deployment"]["index"]))
    return {
        "environment": environment,
        "service": service,
        "at": at_utc,
        "window_seconds": window.total_seconds(),
        "incident": None
        if incident is None
        else {
            "index": incident["idx"],
            "id": incident["incident"],
            "title": incident["title"],
            "service": incident["service"],
            "severity": incident["severity"],
            "time": incident["time_utc"],
        },
        "suspects": ranked,
    }


def _ago(delta: timedelta) -> str:
    hours, rest = divmod(int(delta.total_seconds()), 3600)
    return f"{hours}h{rest // 60:02d}m"
