"""Finding what a question names: a service, an environment, a deployment; nearest names on a miss."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from flightlog.errors import UnknownName
from flightlog.lineage.port import Fact, LineageReader

__all__ = [
    "check_name",
    "check_target",
    "deployment_named",
    "nearest",
    "split_target",
    "successful",
]


def split_target(target: str) -> tuple[str, str]:
    """``ENV/SERVICE`` → ``(environment, service)``; UnknownName naming the expected shape."""
    env, sep, service = target.partition("/")
    if not sep or not env or not service:
        raise UnknownName(f"{target!r} is not ENV/SERVICE (for example production/payments)")
    return env, service


def nearest(value: str, known: Sequence[str]) -> str:
    """What exists instead of ``value``: the closest of ``known``, or the first of them."""
    close = difflib.get_close_matches(value, known, n=3, cutoff=0.5)
    if close:
        return "did you mean " + ", ".join(close) + "?"
    if not known:
        return "none recorded yet"
    shown = ", ".join(known[:10]) + (" …" if len(known) > 10 else "")
    return f"known: {shown}"


def check_name(reader: LineageReader, what: str, value: str) -> None:
    """UnknownName unless some deployment names ``value`` as its ``what`` (service/environment)."""
    known = reader.names("deployments", what)
    if value not in known:
        raise UnknownName(f"no {what} {value!r} has deployments; {nearest(value, known)}")


def check_target(reader: LineageReader, env: str, service: str) -> None:
    """:func:`check_name` of both: at once when a deployment of ``service`` to ``env`` exists."""
    if reader.facts("deployments", {"environment": env, "service": service}, limit=1):
        return
    check_name(reader, "environment", env)
    check_name(reader, "service", service)


def successful(facts: Sequence[Fact]) -> list[Fact]:
    """The deployments among ``facts`` that finished successfully."""
    return [f for f in facts if f["status"] == "success"]


def deployment_named(reader: LineageReader, env: str, service: str, name: str) -> Fact:
    """The successful deployment ``name`` stands for: a ledger index, a deployment id or a version."""
    where = {"environment": env, "service": service, "status": "success"}
    if name.isdigit():
        found = reader.facts("deployments", where, after=int(name) - 1, upto=int(name))
        if found:
            return found[0]
    for column in ("deployment", "version", "artifact"):
        found = reader.facts("deployments", {**where, column: name}, newest_first=True, limit=1)
        if found:
            return found[0]
    versions = [
        str(f["version"] or f["deployment"])
        for f in reader.facts("deployments", where, newest_first=True, limit=50)
    ]
    raise UnknownName(
        f"no deployment {name!r} of {service} in {env} (a version, a deployment id or a ledger "
        f"index); {nearest(name, list(dict.fromkeys(versions)))}"
    )
