"""Events → projection rows: the pure half of the lineage tables.

Each event yields rows for zero or more tables (``deployments``, ``artifacts``,
``builds``, ``changes``, ``test_runs``, ``scans``, ``approvals``, ``tickets``,
``incidents``) plus one search document. Links between them are the refs (commit,
artifact, change, ticket …) each row keeps, so a rebuild from the ledger alone gives
exactly the rows the appends wrote.

This runs inside every append, once per event: the event's type picks its one row
builder from a table (no chain of tests), each JSON object is looked up once, and rows
are tuples in their table's column order (:data:`COLUMNS`), ready for the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from types import MappingProxyType
from typing import Any

__all__ = ["COLUMNS", "TABLES", "Row", "project_event", "search_text"]

# One row's values, in the order of its table's COLUMNS.
Values = tuple[Any, ...]
# (table, values).
Row = tuple[str, Values]
_LINKS = ("artifact", "commit", "actor", "pipeline_run")
COLUMNS: dict[str, tuple[str, ...]] = {
    "deployments": (
        "idx",
        "time_utc",
        "deployment",
        "service",
        "environment",
        "artifact",
        "version",
        "status",
        "reason",
        "actor",
        "commit",
        "pipeline_run",
    ),
    "artifacts": ("idx", "time_utc", *_LINKS),
    "builds": ("idx", "time_utc", *_LINKS, "run_url", "version"),
    "changes": (
        "idx",
        "time_utc",
        "kind",
        "verb",
        "key",
        "repo",
        "author",
        "title",
        "url",
        "reviewer",
        "verdict",
    ),
    "test_runs": (
        "idx",
        "time_utc",
        *_LINKS,
        "environment",
        "suite",
        "outcome",
        "tests",
        "failures",
        "errors",
        "skipped",
    ),
    "scans": (
        "idx",
        "time_utc",
        *_LINKS,
        "tool",
        "critical",
        "high",
        "medium",
        "low",
        "worst",
    ),
    "approvals": ("idx", "time_utc", *_LINKS, "approver", "granted", "change", "environment"),
    "tickets": ("ticket", "idx", "time_utc"),
    "incidents": (
        "idx",
        "time_utc",
        "incident",
        "service",
        "environment",
        "status",
        "title",
        "severity",
    ),
}
TABLES = tuple(COLUMNS)
# `flightlog record deploy` appends deployment.finished and, on success, this companion
# service.deployed: the finished event is the deployment, the companion is not a second one.
_COMPANION_SUFFIX = "-deployed"
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _obj(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a JSON object, else an empty one: its fields then read as None."""
    # Parsed JSON objects are dicts and absent fields None: both exact checks are far
    # cheaper than an isinstance against the Mapping ABC.
    if type(value) is dict:
        return value
    if value is None or not isinstance(value, Mapping):
        return _EMPTY
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class _Event:
    """The parts of one event every row builder reads, each JSON object looked up once."""

    __slots__ = ("content", "custom", "event", "first", "idx", "predicate", "subject", "time_utc")

    def __init__(
        self,
        event: Mapping[str, Any],
        predicate: str,
        first: Mapping[str, str],
        idx: int,
        time_utc: str,
    ) -> None:
        self.event = event
        self.subject = _obj(event.get("subject"))
        self.content = _obj(self.subject.get("content"))
        self.custom = _obj(event.get("customData"))
        self.predicate = predicate
        self.first = first  # the first ref of each kind
        self.idx = idx
        self.time_utc = time_utc

    def links(self) -> tuple[str | None, str | None, str | None, str | None]:
        first = self.first.get
        return first("artifact"), first("commit"), first("actor"), first("pipeline_run")


def _deployment_row(e: _Event, service: str | None, status: str) -> Values | None:
    content, first = e.content, e.first.get
    environment = _str(_obj(content.get("environment")).get("id")) or first("environment")
    if service is None or environment is None:
        return None
    return (
        e.idx,
        e.time_utc,
        _str(e.subject.get("id")) or "",
        service,
        environment,
        _str(content.get("artifactId")) or first("artifact"),
        _str(content.get("version")),
        status,
        _str(content.get("reason")),
        first("actor"),
        first("commit"),
        first("pipeline_run"),
    )


def _deployment(e: _Event) -> Values | None:
    if e.predicate == "started":
        status = "started"
    else:
        status = "success" if e.content.get("outcome") == "success" else "failure"
    return _deployment_row(e, _str(_obj(e.content.get("service")).get("id")), status)


def _service(e: _Event) -> Values | None:
    if str(_obj(e.event.get("context")).get("id") or "").endswith(_COMPANION_SUFFIX):
        return None
    service = _str(_obj(e.content.get("service")).get("id")) or _str(e.subject.get("id"))
    return _deployment_row(e, service, "success")


def _build(e: _Event) -> Values:
    custom = e.custom
    return (
        e.idx,
        e.time_utc,
        *e.links(),
        _str(_obj(custom.get("ci")).get("runUrl")),
        _str(_obj(custom.get("build")).get("version")),
    )


def _artifact(e: _Event) -> Values:
    first = e.first.get
    return (
        e.idx,
        e.time_utc,
        _str(e.subject.get("id")) or first("artifact"),
        first("commit"),
        first("actor"),
        first("pipeline_run"),
    )


def _commit(e: _Event) -> Values:
    content = e.content
    author = _obj(content.get("author"))
    return (
        e.idx,
        e.time_utc,
        "commit",
        e.predicate,
        _str(content.get("sha")) or _str(e.subject.get("id")) or "",
        e.first.get("repo"),
        _str(author.get("username")) or _str(author.get("name")),
        _str(content.get("message")),
        _str(content.get("uri")),
        None,
        None,
    )


def _change(e: _Event) -> Values:
    details = _obj(e.custom.get("details"))
    return (
        e.idx,
        e.time_utc,
        "change",
        e.predicate,
        _str(e.subject.get("id")) or "",
        e.first.get("repo"),
        _str(details.get("author")),
        _str(details.get("title")) or _str(e.content.get("description")),
        _str(details.get("url")),
        _str(details.get("reviewer")),
        _str(details.get("verdict")),
    )


def _test_run(e: _Event) -> Values:
    content = e.content
    results = _obj(e.custom.get("testResults"))
    return (
        e.idx,
        e.time_utc,
        *e.links(),
        _str(_obj(content.get("environment")).get("id")) or e.first.get("environment"),
        _str(_obj(content.get("testSuite")).get("id")) or _str(e.subject.get("id")),
        _str(content.get("outcome")) or "unknown",
        _int(results.get("tests")),
        _int(results.get("failures")),
        _int(results.get("errors")),
        _int(results.get("skipped")),
    )


def _worst(findings: Any) -> str | None:
    """The first three findings as ``id (severity)``, comma separated."""
    worst = []
    if isinstance(findings, list):
        for finding in findings:
            if isinstance(finding, Mapping):
                worst.append(
                    f"{_str(finding.get('id')) or '?'} ({_str(finding.get('severity')) or '?'})"
                )
                if len(worst) == 3:
                    break
    return ", ".join(worst) or None


def _scan(e: _Event) -> Values:
    counts = _obj(e.content.get("counts"))
    return (
        e.idx,
        e.time_utc,
        *e.links(),
        _str(_obj(e.content.get("tool")).get("name")) or "unknown",
        _int(counts.get("critical")),
        _int(counts.get("high")),
        _int(counts.get("medium")),
        _int(counts.get("low")),
        _worst(e.content.get("findings")),
    )


def _approval(e: _Event) -> Values:
    content = e.content
    return (
        e.idx,
        e.time_utc,
        *e.links(),
        _str(content.get("approver")) or "",
        e.predicate == "granted",
        _str(_obj(content.get("change")).get("id")),
        _str(_obj(content.get("environment")).get("id")),
    )


def _incident(e: _Event) -> Values:
    content, first = e.content, e.first.get
    incident = _obj(e.custom.get("incident"))
    return (
        e.idx,
        e.time_utc,
        _str(e.subject.get("id")) or "",
        _str(_obj(content.get("service")).get("id")) or first("service"),
        _str(_obj(content.get("environment")).get("id")) or first("environment"),
        "resolved" if e.predicate == "resolved" else "open",
        _str(incident.get("title")) or _str(content.get("description")),
        _str(incident.get("severity")),
    )


_FINISHED = frozenset({"finished"})
_Builder = Callable[[_Event], Values | None]
# Per event subject (``dev.cdevents[x].<subject>.<predicate>``): the table its rows go to,
# their builder and the predicates it takes (None: any). Any other event gives only its
# tickets.
_BUILDERS: dict[str, tuple[str, _Builder, frozenset[str] | None]] = {
    "flightlog-deployment": ("deployments", _deployment, frozenset({"started", "finished"})),
    "service": ("deployments", _service, frozenset({"deployed", "upgraded", "rolledback"})),
    "build": ("builds", _build, _FINISHED),
    "artifact": ("artifacts", _artifact, frozenset({"published", "packaged"})),
    "flightlog-commit": ("changes", _commit, frozenset({"pushed"})),
    "change": ("changes", _change, None),
    "testsuiterun": ("test_runs", _test_run, _FINISHED),
    "testcaserun": ("test_runs", _test_run, _FINISHED),
    "flightlog-vulnerabilityscan": ("scans", _scan, _FINISHED),
    "flightlog-approval": ("approvals", _approval, None),
    "incident": ("incidents", _incident, None),
}


@lru_cache(maxsize=1024)
def _builder_for(event_type: str) -> tuple[str, _Builder, str] | None:
    """The table, row builder and predicate of a type string (cached: a log holds few)."""
    parts = event_type.split(".", 4)
    found = _BUILDERS.get(parts[2]) if len(parts) >= 4 else None
    if found is None:
        return None
    table, build, predicates = found
    if predicates is not None and parts[3] not in predicates:
        return None
    return table, build, parts[3]


def project_event(
    event: Mapping[str, Any], refs: Sequence[tuple[str, str]], *, index: int, time_utc: str
) -> list[Row]:
    """The projection rows one appended event adds, each carrying its ledger index."""
    tickets = [value for kind, value in refs if kind == "ticket"]
    rows: list[Row] = []
    event_type = _obj(event.get("context")).get("type")
    found = _builder_for(event_type) if isinstance(event_type, str) else None
    if found is not None:
        table, build, predicate = found
        # The first ref of each kind: later pairs overwrite earlier ones, so read backwards.
        values = build(_Event(event, predicate, dict(reversed(refs)), index, time_utc))
        if values is not None:
            rows.append((table, values))
    if tickets:
        rows += [("tickets", (ticket, index, time_utc)) for ticket in sorted(set(tickets))]
    return rows


# An event contributes at most this much text; search is for finding, not storing.
_MAX_SEARCH_TEXT = 20_000
_MAX_ITEMS = 200
_CONTENT_WORDS = ("message", "description", "reason", "approver")
_CONTENT_NAMES = ("tool", "testSuite", "author")
_FINDING_WORDS = ("id", "package", "title")
_FAILED_TEST_WORDS = ("suite", "classname", "name")


def _items(words: list[Any], items: Any, keys: tuple[str, ...]) -> None:
    """A list's items' ``keys`` (of its first ``_MAX_ITEMS`` objects), or the value itself."""
    if type(items) is list:
        for item in items[:_MAX_ITEMS]:
            if type(item) is dict:
                words += [item.get(key) for key in keys]
    else:
        words.append(items)


def search_text(event: Mapping[str, Any], refs: Sequence[tuple[str, str]]) -> str:
    """The words search finds an event by: messages, titles, names, test names, CVE ids, refs.

    In this order: the refs' values, then the subject's id, message, description, reason,
    approver, tool name, test suite name, author name and findings (id, package, title),
    then the custom data's change title and review, incident title and failed tests
    (suite, class, name); each word once.
    """
    words: list[Any] = [value for _, value in refs]
    subject = _obj(event.get("subject"))
    words.append(subject.get("id"))
    content = subject.get("content")
    if content is not None:
        content = _obj(content)
        words += [content.get(key) for key in _CONTENT_WORDS]
        for key in _CONTENT_NAMES:
            named = content.get(key)
            if named is not None:
                words.append(_obj(named).get("name"))
        findings = content.get("findings")
        if findings is not None:
            _items(words, findings, _FINDING_WORDS)
    custom = event.get("customData")
    if custom is not None:
        custom = _obj(custom)
        details = _obj(custom.get("details"))
        words += (
            details.get("title"),
            details.get("reviewBody"),
            _obj(custom.get("incident")).get("title"),
        )
        results = custom.get("testResults")
        if results is not None:
            _items(words, _obj(results).get("failed"), _FAILED_TEST_WORDS)
    return "\n".join(dict.fromkeys([w for w in words if isinstance(w, str)]))[:_MAX_SEARCH_TEXT]
