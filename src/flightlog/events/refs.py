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
from collections.abc import Mapping
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
    if not isinstance(text, str) or "-" not in text:  # no key without its "-"
        return []
    found: dict[str, None] = {}
    for match in _TICKET.finditer(text):
        key = match.group(1)
        if key.split("-", 1)[0] not in _NOT_TICKETS:
            found[key] = None
    return list(found)


# What a plan step does with the value it reads (a string or a list of strings):
_VALUE = 0  # each non-blank string is a ref of the step's kind
_TICKETS = 1  # each ticket key found in each string is a ticket ref
_TICKET_FIELD = 2  # a ticket field: the keys in each string, or the string if it has none
_OWNER_NAME = 3  # a repository object: "owner/name" when both are non-blank strings

_Step = tuple[int, str, tuple[str, ...]]
"""``(what, kind, path)``: the value at ``path`` under the subject (``id``, ``content`` …)."""
_Plan = tuple[_Step, ...]

_ID: tuple[str, ...] = ("id",)


def _content(*keys: str) -> tuple[str, ...]:
    return ("content", *keys)


# One plan per subject: each reads the content as its CDEvents spec page defines it
# (docs/events.md, "Refs", has the same rules as a table).
_PLANS_BY_SUBJECT: Mapping[tuple[str, str], _Plan] = {
    # service.*: the subject is the service (continuous-deployment.md, ``service``).
    ("dev.cdevents", "service"): (
        (_VALUE, "service", _ID),
        (_VALUE, "environment", _content("environment", "id")),
        (_VALUE, "artifact", _content("artifactId")),
    ),
    # environment.*: the subject is the environment.
    ("dev.cdevents", "environment"): ((_VALUE, "environment", _ID),),
    # artifact.*: the subject id is the artifact's purl (continuous-integration.md).
    ("dev.cdevents", "artifact"): (
        (_VALUE, "artifact", _ID),
        (_VALUE, "actor", _content("user")),
        (_VALUE, "change", _content("change", "id")),
    ),
    # build.*: a finished build names the artifact it produced.
    ("dev.cdevents", "build"): ((_VALUE, "artifact", _content("artifactId")),),
    # branch.*: the subject is the branch; branch names often carry a ticket key.
    ("dev.cdevents", "branch"): (
        (_VALUE, "branch", _ID),
        (_VALUE, "repo", _content("repository", "id")),
        (_TICKETS, "ticket", _ID),
    ),
    # change.*: the subject is the change (PR/MR); its id and description may name tickets.
    ("dev.cdevents", "change"): (
        (_VALUE, "change", _ID),
        (_VALUE, "repo", _content("repository", "id")),
        (_TICKETS, "ticket", _ID),
        (_TICKETS, "ticket", _content("description")),
    ),
    # repository.*: the subject is the repository, also known as ``owner/name``.
    ("dev.cdevents", "repository"): (
        (_VALUE, "repo", _ID),
        (_OWNER_NAME, "repo", _content()),
    ),
    # pipelinerun.*: the subject is the pipeline run.
    ("dev.cdevents", "pipelinerun"): ((_VALUE, "pipeline_run", _ID),),
    # taskrun.*: a task run belongs to the pipeline run it names in ``pipelineRun``.
    ("dev.cdevents", "taskrun"): ((_VALUE, "pipeline_run", _content("pipelineRun", "id")),),
    # testsuiterun.* / testcaserun.*: the environment the tests ran in.
    ("dev.cdevents", "testsuiterun"): (
        (_VALUE, "environment", _content("environment", "id")),
        (_TICKETS, "ticket", _content("reason")),
    ),
    ("dev.cdevents", "testcaserun"): (
        (_VALUE, "environment", _content("environment", "id")),
        (_TICKETS, "ticket", _content("reason")),
    ),
    # incident.*: where the incident happened and what was running there.
    ("dev.cdevents", "incident"): (
        (_VALUE, "environment", _content("environment", "id")),
        (_VALUE, "service", _content("service", "id")),
        (_VALUE, "artifact", _content("artifactId")),
        (_TICKETS, "ticket", _content("ticketURI")),
    ),
    # ticket.*: the subject is the ticket; its people are actors.
    ("dev.cdevents", "ticket"): (
        (_VALUE, "ticket", _ID),
        (_VALUE, "actor", _content("creator")),
        (_VALUE, "actor", _content("assignees")),
        (_VALUE, "actor", _content("updatedBy")),
    ),
    # flightlog-vulnerabilityscan.*: the scanned artifact and where it was scanned.
    ("dev.cdeventsx", "flightlog-vulnerabilityscan"): (
        (_VALUE, "artifact", _content("artifactId")),
        (_VALUE, "environment", _content("environment", "id")),
    ),
    # flightlog-approval.*: who decided about which artifact or change, for where.
    ("dev.cdeventsx", "flightlog-approval"): (
        (_VALUE, "actor", _content("approver")),
        (_VALUE, "artifact", _content("artifactId")),
        (_VALUE, "change", _content("change", "id")),
        (_VALUE, "environment", _content("environment", "id")),
        (_VALUE, "service", _content("service", "id")),
        (_TICKET_FIELD, "ticket", _content("ticket")),
        (_TICKETS, "ticket", _content("change", "id")),
        (_TICKETS, "ticket", _content("reason")),
    ),
    # flightlog-policy.*: the target the verdict is about.
    ("dev.cdeventsx", "flightlog-policy"): (
        (_VALUE, "artifact", _content("target", "artifactId")),
        (_VALUE, "service", _content("target", "service", "id")),
        (_VALUE, "environment", _content("target", "environment", "id")),
        (_TICKETS, "ticket", _content("reasons")),
    ),
    # flightlog-rollback.*: the service, both artifacts and who asked.
    ("dev.cdeventsx", "flightlog-rollback"): (
        (_VALUE, "service", _content("service", "id")),
        (_VALUE, "environment", _content("environment", "id")),
        (_VALUE, "artifact", _content("fromArtifactId")),
        (_VALUE, "artifact", _content("toArtifactId")),
        (_VALUE, "actor", _content("requestedBy")),
        (_TICKETS, "ticket", _content("reason")),
    ),
    # flightlog-payload.erased: who erased, and any ticket the reason cites.
    ("dev.cdeventsx", "flightlog-payload"): (
        (_VALUE, "actor", _content("erasedBy")),
        (_TICKETS, "ticket", _content("reason")),
    ),
}

# The convention as plan steps over ``customData.flightlog``: one per key, then tickets.
_CONVENTION_STEPS: Mapping[str, _Plan] = {
    key: ((_VALUE, kind, (key,)),) for key, kind in _CONVENTION.items()
}
_CONVENTION_TICKETS: _Plan = tuple((_TICKETS, "ticket", (key,)) for key in _TICKET_BEARING)


def _is_object(value: Any) -> bool:
    # Parsed JSON objects are dicts; the exact type check is far cheaper than Mapping's.
    return type(value) is dict or isinstance(value, Mapping)


def _blank(text: str) -> bool:
    """Whether ``text`` is empty or all whitespace (``not text.strip()``, without a copy)."""
    return not text or text.isspace()


def _run(plan: _Plan, root: Mapping[str, Any], out: list[Ref]) -> None:
    """Append the refs ``plan`` reads under ``root`` to ``out``."""
    for what, kind, path in plan:
        value: Any = root
        for key in path:
            if type(value) is dict or isinstance(value, Mapping):
                value = value.get(key)
            else:
                value = None
                break
        if value is None:
            continue
        # The common case first: one string taken as it is.
        if what == _VALUE and type(value) is str:
            if value and not value.isspace():
                out.append((kind, value))
        else:
            _read(what, kind, value, out)


def _read(what: int, kind: str, value: Any, out: list[Ref]) -> None:
    """Append the refs of one plan step's ``value`` (a string, a list, an object) to ``out``."""
    if isinstance(value, str):
        texts = [] if _blank(value) else [value]
    elif isinstance(value, list):
        texts = [v for v in value if isinstance(v, str) and not _blank(v)]
    else:
        if what == _OWNER_NAME and _is_object(value):
            owner, name = value.get("owner"), value.get("name")
            both = isinstance(owner, str) and isinstance(name, str)
            if both and not _blank(owner) and not _blank(name):
                out.append((kind, f"{owner}/{name}"))
        return
    if what == _VALUE:
        out += [(kind, text) for text in texts]
    elif what == _TICKETS:
        out += [(kind, key) for text in texts for key in find_tickets(text)]
    elif what == _TICKET_FIELD:
        for text in texts:
            keys = find_tickets(text)
            out += [(kind, key) for key in keys] if keys else [(kind, text)]


def _convention(declared: Mapping[str, Any], out: list[Ref]) -> None:
    """Append the refs a producer declared in ``customData.flightlog`` to ``out``."""
    # Only the keys present: a declaration names a few of the convention's many keys.
    for key in declared:
        steps = _CONVENTION_STEPS.get(key)
        if steps is not None:
            _run(steps, declared, out)
    _run(_CONVENTION_TICKETS, declared, out)


def convention_warnings(event: Mapping[str, Any], *, position: str | None = None) -> list[str]:
    """Warnings for ``customData.flightlog`` keys the convention does not know (ignored keys)."""
    custom: Any = event.get("customData") if _is_object(event) else None
    declared = custom.get("flightlog") if _is_object(custom) else None
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


_PLANS: dict[str, _Plan] = {}
_PLANS_KEPT = 1024  # a log holds few distinct types; the cache never grows past this


def _plan_for(type_string: str) -> _Plan:
    """The plan for a type string: resolved once per type (empty when no rule reads it)."""
    plan = _PLANS.get(type_string)
    if plan is None:
        try:
            event_type = parse_event_type(type_string)
        except UnknownEventType:
            plan = ()
        else:
            plan = _PLANS_BY_SUBJECT.get((event_type.namespace, event_type.subject), ())
        if len(_PLANS) >= _PLANS_KEPT:
            _PLANS.clear()
        _PLANS[type_string] = plan
    return plan


def extract_refs(event: Mapping[str, Any]) -> list[Ref]:
    """Return the sorted, unique ``(kind, value)`` refs an event mentions."""
    # Parsed JSON objects are dicts: the exact type checks come before Mapping's.
    if type(event) is not dict and not isinstance(event, Mapping):
        return []
    out: list[Ref] = []
    context = event.get("context")
    if type(context) is dict or isinstance(context, Mapping):
        type_string = context.get("type")
        if isinstance(type_string, str):
            plan = _PLANS.get(type_string)
            if plan is None:
                plan = _plan_for(type_string)
            subject = event.get("subject") if plan else None
            if type(subject) is dict or (subject is not None and isinstance(subject, Mapping)):
                _run(plan, subject, out)
    custom = event.get("customData")
    if custom is not None and _is_object(custom):
        declared = custom.get("flightlog")
        if declared is not None and _is_object(declared):
            _convention(declared, out)
    if len(out) > 1:
        # Sorted, then repeats (now adjacent) dropped: cheaper than a set for a few refs.
        out.sort()
        for k in range(len(out) - 1, 0, -1):
            if out[k] == out[k - 1]:
                del out[k]
    return out
