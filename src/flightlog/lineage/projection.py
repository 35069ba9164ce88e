"""Events → projection rows: the pure half of the lineage tables.

Each event yields rows for zero or more tables (``deployments``, ``artifacts``,
``builds``, ``changes``, ``test_runs``, ``scans``, ``approvals``, ``tickets``,
``incidents``) plus one search document. Links between them are the refs (commit,
artifact, change, ticket …) each row keeps, so a rebuild from the ledger alone gives
exactly the rows the appends wrote.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

__all__ = ["TABLES", "Row", "project_event", "search_text"]

Row = tuple[str, dict[str, Any]]
TABLES = (
    "deployments",
    "artifacts",
    "builds",
    "changes",
    "test_runs",
    "scans",
    "approvals",
    "tickets",
    "incidents",
)
_SEVERITIES = ("critical", "high", "medium", "low")
# The event subjects that give rows beyond tickets.
_PROJECTED = frozenset(
    {
        "flightlog-deployment",
        "service",
        "build",
        "artifact",
        "flightlog-commit",
        "change",
        "testsuiterun",
        "testcaserun",
        "flightlog-vulnerabilityscan",
        "flightlog-approval",
        "incident",
    }
)
# `flightlog record deploy` appends deployment.finished and, on success, this companion
# service.deployed: the finished event is the deployment, the companion is not a second one.
_COMPANION_SUFFIX = "-deployed"


def _at(value: Any, *keys: str) -> Any:
    for key in keys:
        # Parsed JSON objects are dicts; the exact type check is far cheaper than Mapping's.
        if type(value) is not dict and not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _first(refs: Mapping[str, list[str]], kind: str) -> str | None:
    values = refs.get(kind)
    return values[0] if values else None


def _type_parts(event_type: str) -> tuple[str, str]:
    """``(subject, predicate)`` of ``dev.cdevents[x].<subject>.<predicate>.<version>``."""
    parts = event_type.split(".")
    return (parts[2], parts[3]) if len(parts) >= 4 else ("", "")


def _deployment(
    event: Mapping[str, Any],
    subject: str,
    predicate: str,
    base: dict[str, Any],
    refs: Mapping[str, list[str]],
) -> Iterator[Row]:
    content = _at(event, "subject", "content")
    if subject == "flightlog-deployment":
        if predicate == "started":
            status = "started"
        elif predicate == "finished":
            status = "success" if _at(content, "outcome") == "success" else "failure"
        else:
            return
    elif subject == "service" and predicate in ("deployed", "upgraded", "rolledback"):
        if str(_at(event, "context", "id") or "").endswith(_COMPANION_SUFFIX):
            return
        status = "success"
    else:
        return
    service = _str(_at(content, "service", "id")) or (
        _str(_at(event, "subject", "id")) if subject == "service" else None
    )
    environment = _str(_at(content, "environment", "id")) or _first(refs, "environment")
    if service is None or environment is None:
        return
    yield (
        "deployments",
        {
            **base,
            "deployment": _str(_at(event, "subject", "id")) or "",
            "service": service,
            "environment": environment,
            "artifact": _str(_at(content, "artifactId")) or _first(refs, "artifact"),
            "version": _str(_at(content, "version")),
            "status": status,
            "reason": _str(_at(content, "reason")),
            "actor": _first(refs, "actor"),
            "commit": _first(refs, "commit"),
            "pipeline_run": _first(refs, "pipeline_run"),
        },
    )


def _rows(
    event: Mapping[str, Any], base: dict[str, Any], refs: Mapping[str, list[str]]
) -> Iterator[Row]:
    subject, predicate = _type_parts(str(_at(event, "context", "type") or ""))
    if subject not in _PROJECTED:
        yield from _tickets(base, refs)
        return
    content = _at(event, "subject", "content")
    custom = _at(event, "customData")
    yield from _deployment(event, subject, predicate, base, refs)
    links = {
        "artifact": _first(refs, "artifact"),
        "commit": _first(refs, "commit"),
        "actor": _first(refs, "actor"),
        "pipeline_run": _first(refs, "pipeline_run"),
    }
    if subject == "build" and predicate == "finished":
        yield (
            "builds",
            {
                **base,
                **links,
                "run_url": _str(_at(custom, "ci", "runUrl")),
                "version": _str(_at(custom, "build", "version")),
            },
        )
    elif subject == "artifact" and predicate in ("published", "packaged"):
        yield (
            "artifacts",
            {**base, **links, "artifact": _str(_at(event, "subject", "id")) or links["artifact"]},
        )
    elif subject == "flightlog-commit" and predicate == "pushed":
        author = _at(content, "author")
        yield (
            "changes",
            {
                **base,
                "kind": "commit",
                "verb": predicate,
                "key": _str(_at(content, "sha")) or _str(_at(event, "subject", "id")) or "",
                "repo": _first(refs, "repo"),
                "author": _str(_at(author, "username")) or _str(_at(author, "name")),
                "title": _str(_at(content, "message")),
                "url": _str(_at(content, "uri")),
                "reviewer": None,
                "verdict": None,
            },
        )
    elif subject == "change":
        details = _at(custom, "details")
        yield (
            "changes",
            {
                **base,
                "kind": "change",
                "verb": predicate,
                "key": _str(_at(event, "subject", "id")) or "",
                "repo": _first(refs, "repo"),
                "author": _str(_at(details, "author")),
                "title": _str(_at(details, "title")) or _str(_at(content, "description")),
                "url": _str(_at(details, "url")),
                "reviewer": _str(_at(details, "reviewer")),
                "verdict": _str(_at(details, "verdict")),
            },
        )
    elif subject in ("testsuiterun", "testcaserun") and predicate == "finished":
        results = _at(custom, "testResults")
        yield (
            "test_runs",
            {
                **base,
                **links,
                "environment": _str(_at(content, "environment", "id"))
                or _first(refs, "environment"),
                "suite": _str(_at(content, "testSuite", "id")) or _str(_at(event, "subject", "id")),
                "outcome": _str(_at(content, "outcome")) or "unknown",
                "tests": _int(_at(results, "tests")),
                "failures": _int(_at(results, "failures")),
                "errors": _int(_at(results, "errors")),
                "skipped": _int(_at(results, "skipped")),
            },
        )
    elif subject == "flightlog-vulnerabilityscan" and predicate == "finished":
        counts = _at(content, "counts")
        worst = [f for f in (_at(content, "findings") or []) if isinstance(f, Mapping)][:3]
        yield (
            "scans",
            {
                **base,
                **links,
                "tool": _str(_at(content, "tool", "name")) or "unknown",
                **{s: _int(_at(counts, s)) for s in _SEVERITIES},
                "worst": ", ".join(
                    f"{_str(f.get('id')) or '?'} ({_str(f.get('severity')) or '?'})" for f in worst
                )
                or None,
            },
        )
    elif subject == "flightlog-approval":
        yield (
            "approvals",
            {
                **base,
                **links,
                "approver": _str(_at(content, "approver")) or "",
                "granted": predicate == "granted",
                "change": _str(_at(content, "change", "id")),
                "environment": _str(_at(content, "environment", "id")),
            },
        )
    elif subject == "incident":
        incident = _at(custom, "incident")
        yield (
            "incidents",
            {
                **base,
                "incident": _str(_at(event, "subject", "id")) or "",
                "service": _str(_at(content, "service", "id")) or _first(refs, "service"),
                "environment": _str(_at(content, "environment", "id"))
                or _first(refs, "environment"),
                "status": "resolved" if predicate == "resolved" else "open",
                "title": _str(_at(incident, "title")) or _str(_at(content, "description")),
                "severity": _str(_at(incident, "severity")),
            },
        )
    yield from _tickets(base, refs)


def _tickets(base: dict[str, Any], refs: Mapping[str, list[str]]) -> Iterator[Row]:
    for ticket in sorted(set(refs.get("ticket", ()))):
        yield "tickets", {"idx": base["idx"], "ticket": ticket, "time_utc": base["time_utc"]}


def project_event(
    event: Mapping[str, Any], refs: Sequence[tuple[str, str]], *, index: int, time_utc: str
) -> list[Row]:
    """The projection rows one appended event adds, each carrying its ledger index."""
    by_kind: dict[str, list[str]] = {}
    for kind, value in refs:
        by_kind.setdefault(kind, []).append(value)
    return list(_rows(event, {"idx": index, "time_utc": time_utc}, by_kind))


# An event contributes at most this much text; search is for finding, not storing.
_MAX_SEARCH_TEXT = 20_000
_MAX_ITEMS = 200


def _add(out: dict[str, None], value: Any) -> None:
    if isinstance(value, str):
        out.setdefault(value, None)


def _add_items(out: dict[str, None], items: Any, keys: tuple[str, ...]) -> None:
    _add(out, items)
    if isinstance(items, list):
        for item in items[:_MAX_ITEMS]:
            if type(item) is dict:
                for key in keys:
                    _add(out, item.get(key))


def search_text(event: Mapping[str, Any], refs: Sequence[tuple[str, str]]) -> str:
    """The words search finds an event by: messages, titles, names, test names, CVE ids, refs.

    In this order: the refs' values, then the subject's id, message, description, reason,
    approver, tool name, test suite name, author name and findings (id, package, title),
    then the custom data's change title and review, incident title and failed tests
    (suite, class, name); each word once.
    """
    out: dict[str, None] = dict.fromkeys(value for _, value in refs)
    subject = _at(event, "subject")
    _add(out, _at(subject, "id"))
    content = _at(subject, "content")
    if content is not None:
        for key in ("message", "description", "reason", "approver"):
            _add(out, _at(content, key))
        for key in ("tool", "testSuite", "author"):
            _add(out, _at(content, key, "name"))
        _add_items(out, _at(content, "findings"), ("id", "package", "title"))
    custom = _at(event, "customData")
    if custom is not None:
        details = _at(custom, "details")
        _add(out, _at(details, "title"))
        _add(out, _at(details, "reviewBody"))
        _add(out, _at(custom, "incident", "title"))
        _add_items(out, _at(custom, "testResults", "failed"), ("suite", "classname", "name"))
    return "\n".join(out)[:_MAX_SEARCH_TEXT]
