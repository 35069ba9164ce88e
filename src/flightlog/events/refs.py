"""Ref extraction: the join keys (repo, commit, ticket, artifact …) an event mentions.

Lineage walks these refs instead of per-type foreign keys. The rules read each CDEvents
v0.5.1 subject's content as its spec page defines it (source-code-version-control.md,
continuous-integration.md, continuous-deployment.md, testing-events.md,
continuous-operations.md), the content of the Flightlog custom types, and the
``customData.flightlog`` convention; ``docs/events.md`` lists them as a table.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any

from flightlog.errors import UnknownEventType
from flightlog.events.envelope import parse_event_type

__all__ = ["REF_KINDS", "Ref", "extract_refs", "find_tickets"]

Ref = tuple[str, str]
REF_KINDS = (
    "repo",
    "commit",
    "branch",
    "change",
    "ticket",
    "artifact",
    "service",
    "environment",
    "pipeline_run",
    "actor",
    "system",
)

# Jira-style issue keys: a project key (upper-case letter, then 1-9 upper-case letters,
# digits or "_") and an issue number. A key glued to a preceding letter or digit, or a
# number followed by more digits or "-<digit>" (CVE-2024-1234, dates) is not a ticket.
_TICKET = re.compile(r"(?<![A-Za-z0-9])([A-Z][A-Z0-9_]{1,9}-[1-9][0-9]{0,8})(?![0-9]|-[0-9])")
# Identifiers of the same shape that name advisories and standards, not tickets.
_NOT_TICKETS = frozenset(
    {"CVE", "CWE", "CAPEC", "GHSA", "RUSTSEC", "PYSEC", "OSV", "RFC", "ISO", "UTF", "SHA"}
    | {"TLS", "SSL", "PEP", "HTTP"}
)

# customData.flightlog keys (docs/events.md, "The customData.flightlog convention").
_CONVENTION = {
    "repo": "repo",
    "commit": "commit",
    "branch": "branch",
    "change": "change",
    "ticket": "ticket",
    "tickets": "ticket",
    "artifact": "artifact",
    "service": "service",
    "environment": "environment",
    "pipelineRun": "pipeline_run",
    "actor": "actor",
    "system": "system",
    "systems": "system",
}
# Convention values scanned for ticket keys as well as recorded as refs.
_TICKET_BEARING = ("branch", "change", "messages")


def find_tickets(text: str) -> list[str]:
    """Return the Jira-style ticket keys (e.g. ``PAY-123``) in ``text``, in order, once each."""
    if not isinstance(text, str):
        return []
    found: dict[str, None] = {}
    for match in _TICKET.finditer(text):
        key = match.group(1)
        if key.split("-", 1)[0] not in _NOT_TICKETS:
            found[key] = None
    return list(found)


def _text(value: Any) -> str | None:
    """Return ``value`` if it is a non-blank string, else None."""
    return value if isinstance(value, str) and value.strip() else None


def _at(value: Any, *keys: str) -> Any:
    """Follow ``keys`` through nested objects, returning None where the path breaks."""
    for key in keys:
        # Parsed JSON objects are dicts; the exact type check is far cheaper than Mapping's.
        if type(value) is not dict and not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _strings(value: Any) -> list[str]:
    """The non-blank strings of a string or a list of strings."""
    # Lists, not generators: most values are one string or absent, and a generator
    # costs more to start than the work it does.
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str) and item.strip()]
    return []


def _refs(kind: str, *values: Any) -> list[Ref]:
    """``(kind, value)`` for every non-blank string among ``values`` (or lists of them)."""
    return [(kind, text) for value in values for text in _strings(value)]


def _tickets_in(*values: Any) -> Iterator[Ref]:
    """Yield a ticket ref for every ticket key found in ``values``."""
    for value in values:
        for text in _strings(value):
            for key in find_tickets(text):
                yield "ticket", key


def _ticket_field(value: Any) -> Iterator[Ref]:
    """Yield the tickets a ``ticket`` field names: its keys, or the value itself if it has none."""
    for text in _strings(value):
        keys = find_tickets(text)
        if not keys:
            yield "ticket", text
        for key in keys:
            yield "ticket", key


_Rule = Callable[[Any, Any], Iterable[Ref]]


def _service(sid: Any, content: Any) -> Iterator[Ref]:
    """service.*: the subject is the service (continuous-deployment.md, ``service``)."""
    yield from _refs("service", sid)
    yield from _refs("environment", _at(content, "environment", "id"))
    yield from _refs("artifact", _at(content, "artifactId"))


def _environment(sid: Any, _content: Any) -> Iterator[Ref]:
    """environment.*: the subject is the environment."""
    yield from _refs("environment", sid)


def _artifact(sid: Any, content: Any) -> Iterator[Ref]:
    """artifact.*: the subject id is the artifact's purl (continuous-integration.md)."""
    yield from _refs("artifact", sid)
    yield from _refs("actor", _at(content, "user"))
    yield from _refs("change", _at(content, "change", "id"))


def _build(_sid: Any, content: Any) -> Iterator[Ref]:
    """build.*: a finished build names the artifact it produced."""
    yield from _refs("artifact", _at(content, "artifactId"))


def _branch(sid: Any, content: Any) -> Iterator[Ref]:
    """branch.*: the subject is the branch; branch names often carry a ticket key."""
    yield from _refs("branch", sid)
    yield from _refs("repo", _at(content, "repository", "id"))
    yield from _tickets_in(sid)


def _change(sid: Any, content: Any) -> Iterator[Ref]:
    """change.*: the subject is the change (PR/MR); its id and description may name tickets."""
    yield from _refs("change", sid)
    yield from _refs("repo", _at(content, "repository", "id"))
    yield from _tickets_in(sid, _at(content, "description"))


def _repository(sid: Any, content: Any) -> Iterator[Ref]:
    """repository.*: the subject is the repository, also known as ``owner/name``."""
    yield from _refs("repo", sid)
    owner, name = _text(_at(content, "owner")), _text(_at(content, "name"))
    if owner is not None and name is not None:
        yield "repo", f"{owner}/{name}"


def _pipelinerun(sid: Any, _content: Any) -> Iterator[Ref]:
    """pipelinerun.*: the subject is the pipeline run."""
    yield from _refs("pipeline_run", sid)


def _taskrun(_sid: Any, content: Any) -> Iterator[Ref]:
    """taskrun.*: a task run belongs to the pipeline run it names in ``pipelineRun``."""
    yield from _refs("pipeline_run", _at(content, "pipelineRun", "id"))


def _test_run(_sid: Any, content: Any) -> Iterator[Ref]:
    """testsuiterun.* / testcaserun.*: the environment the tests ran in."""
    yield from _refs("environment", _at(content, "environment", "id"))
    yield from _tickets_in(_at(content, "reason"))


def _incident(_sid: Any, content: Any) -> Iterator[Ref]:
    """incident.*: where the incident happened and what was running there."""
    yield from _refs("environment", _at(content, "environment", "id"))
    yield from _refs("service", _at(content, "service", "id"))
    yield from _refs("artifact", _at(content, "artifactId"))
    yield from _tickets_in(_at(content, "ticketURI"))


def _ticket(sid: Any, content: Any) -> Iterator[Ref]:
    """ticket.*: the subject is the ticket; its people are actors."""
    yield from _refs("ticket", sid)
    yield from _refs("actor", _at(content, "creator"), _at(content, "assignees"))
    yield from _refs("actor", _at(content, "updatedBy"))


def _scan(_sid: Any, content: Any) -> Iterator[Ref]:
    """flightlog-vulnerabilityscan.*: the scanned artifact and where it was scanned."""
    yield from _refs("artifact", _at(content, "artifactId"))
    yield from _refs("environment", _at(content, "environment", "id"))


def _approval(_sid: Any, content: Any) -> Iterator[Ref]:
    """flightlog-approval.*: who decided about which artifact or change, for where."""
    yield from _refs("actor", _at(content, "approver"))
    yield from _refs("artifact", _at(content, "artifactId"))
    yield from _refs("change", _at(content, "change", "id"))
    yield from _refs("environment", _at(content, "environment", "id"))
    yield from _refs("service", _at(content, "service", "id"))
    yield from _ticket_field(_at(content, "ticket"))
    yield from _tickets_in(_at(content, "change", "id"), _at(content, "reason"))


def _policy(_sid: Any, content: Any) -> Iterator[Ref]:
    """flightlog-policy.*: the target the verdict is about."""
    yield from _refs("artifact", _at(content, "target", "artifactId"))
    yield from _refs("service", _at(content, "target", "service", "id"))
    yield from _refs("environment", _at(content, "target", "environment", "id"))
    yield from _tickets_in(_at(content, "reasons"))


def _rollback(_sid: Any, content: Any) -> Iterator[Ref]:
    """flightlog-rollback.*: the service, both artifacts and who asked."""
    yield from _refs("service", _at(content, "service", "id"))
    yield from _refs("environment", _at(content, "environment", "id"))
    yield from _refs("artifact", _at(content, "fromArtifactId"), _at(content, "toArtifactId"))
    yield from _refs("actor", _at(content, "requestedBy"))
    yield from _tickets_in(_at(content, "reason"))


def _erasure(_sid: Any, content: Any) -> Iterator[Ref]:
    """flightlog-payload.erased: who erased, and any ticket the reason cites."""
    yield from _refs("actor", _at(content, "erasedBy"))
    yield from _tickets_in(_at(content, "reason"))


_RULES: Mapping[tuple[str, str], _Rule] = {
    ("dev.cdevents", "service"): _service,
    ("dev.cdevents", "environment"): _environment,
    ("dev.cdevents", "artifact"): _artifact,
    ("dev.cdevents", "build"): _build,
    ("dev.cdevents", "branch"): _branch,
    ("dev.cdevents", "change"): _change,
    ("dev.cdevents", "repository"): _repository,
    ("dev.cdevents", "pipelinerun"): _pipelinerun,
    ("dev.cdevents", "taskrun"): _taskrun,
    ("dev.cdevents", "testsuiterun"): _test_run,
    ("dev.cdevents", "testcaserun"): _test_run,
    ("dev.cdevents", "incident"): _incident,
    ("dev.cdevents", "ticket"): _ticket,
    ("dev.cdeventsx", "flightlog-vulnerabilityscan"): _scan,
    ("dev.cdeventsx", "flightlog-approval"): _approval,
    ("dev.cdeventsx", "flightlog-policy"): _policy,
    ("dev.cdeventsx", "flightlog-rollback"): _rollback,
    ("dev.cdeventsx", "flightlog-payload"): _erasure,
}


def _convention(custom_data: Any) -> Iterator[Ref]:
    """Yield the refs a producer declared in ``customData.flightlog``."""
    declared = _at(custom_data, "flightlog")
    if not isinstance(declared, Mapping):
        return
    # Only the keys present: a declaration names a few of the convention's many keys.
    for key, value in declared.items():
        kind = _CONVENTION.get(key)
        if kind is not None:
            yield from _refs(kind, value)
    for key in _TICKET_BEARING:
        yield from _tickets_in(declared.get(key))


def convention_warnings(event: Mapping[str, Any], *, position: str | None = None) -> list[str]:
    """Warnings for ``customData.flightlog`` keys the convention does not know (ignored keys)."""
    declared = _at(event, "customData", "flightlog")
    if not isinstance(declared, Mapping):
        return []
    known = [*_CONVENTION, *(k for k in _TICKET_BEARING if k not in _CONVENTION)]
    where = f"{position}: " if position else ""
    out = []
    for key in declared:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        out.append(
            f"{where}$.customData.flightlog: unknown key {str(key)!r} is ignored; {hint}"
            f"known keys: {', '.join(sorted(known))}"
        )
    return out


@lru_cache(maxsize=1024)
def _rule_for(type_string: str) -> _Rule | None:
    """The rule for a type string (cached: a log holds few distinct types)."""
    try:
        event_type = parse_event_type(type_string)
    except UnknownEventType:
        return None
    return _RULES.get((event_type.namespace, event_type.subject))


def extract_refs(event: Mapping[str, Any]) -> list[Ref]:
    """Return the sorted, unique ``(kind, value)`` refs an event mentions."""
    if not isinstance(event, Mapping):
        return []
    refs: set[Ref] = set()
    type_string = _at(event, "context", "type")
    rule = _rule_for(type_string) if isinstance(type_string, str) else None
    subject = _at(event, "subject")
    if rule is not None:
        refs.update(rule(_at(subject, "id"), _at(subject, "content")))
    refs.update(_convention(_at(event, "customData")))
    return sorted(refs)
