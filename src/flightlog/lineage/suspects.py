"""suspects: the deployments before an incident, ranked, each with its reasons and diff.

Scores add up named reasons (recency, failed or missing tests, new critical
vulnerabilities, self-approval, no approval, size of the change, systems overlapping the
incident's service) so the ranking explains itself.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flightlog.lineage.port import Fact, LineageReader
from flightlog.lineage.resolve import check_name
from flightlog.lineage.trace import chain, summary_of
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


def _previous(reader: LineageReader, fact: Fact) -> Fact | None:
    found = reader.facts(
        "deployments",
        {"environment": fact["environment"], "service": fact["service"], "status": "success"},
        upto=fact["idx"] - 1,
        newest_first=True,
        limit=1,
    )
    return found[0] if found else None


def _last_good(reader: LineageReader, fact: Fact) -> dict[str, Any] | None:
    """The latest earlier successful deployment of another artifact whose chain shows no gap."""
    earlier = reader.facts(
        "deployments",
        {"environment": fact["environment"], "service": fact["service"], "status": "success"},
        upto=fact["idx"] - 1,
        newest_first=True,
        limit=10,
    )
    for candidate in earlier:
        if candidate["artifact"] == fact["artifact"]:
            continue
        gaps = chain(reader, candidate, _previous(reader, candidate))["gaps"]
        if not any(g["code"] in ("tests_failed", "critical_vulnerabilities") for g in gaps):
            return {
                "index": candidate["idx"],
                "id": candidate["deployment"],
                "version": candidate["version"],
                "artifact": candidate["artifact"],
                "time": candidate["time_utc"],
            }
    return None


def suspects(
    reader: LineageReader,
    *,
    environment: str,
    at_utc: str,
    window: timedelta,
    service: str | None = None,
) -> dict[str, Any]:
    """Deployments to ``environment`` (``service``) in ``window`` before ``at_utc``, ranked."""
    check_name(reader, "environment", environment)
    if service is not None:
        check_name(reader, "service", service)
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
    for fact in reader.facts("deployments", where, since_utc=since, until_utc=at_utc, limit=200):
        if fact["status"] == "started":
            continue
        previous = _previous(reader, fact)
        facts = chain(reader, fact, previous)
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
                "rollback_to": _last_good(reader, fact),
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
