"""Validation of events against the vendored CDEvents v0.5.1 and Flightlog schemas.

Every schema is loaded from package data and resolved locally by its ``$id``. A
``dev.cdevents.*`` type must match one of the spec's schemas exactly (type and version),
a ``dev.cdeventsx.flightlog-*`` type one of ours, and any other ``dev.cdeventsx.*`` type
the CDEvents custom event schema. Errors name the JSON path of the first problem in a
stable order (sorted by path), so the same input always yields the same message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

try:
    import jsonschema_rs
except ImportError:  # pragma: no cover - the pure-Python validator then does all the work
    _RUST = False
else:
    _RUST = True
# jsonschema ships no type information (types-jsonschema is not a dependency).
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError, best_match  # type: ignore[import-untyped]
from referencing import Registry, Resource

from flightlog.errors import EventInvalid, UnknownEventType
from flightlog.events.envelope import (
    CDEVENTS,
    EventHeader,
    EventType,
    parse_event_type,
    utc_timestamp,
)

__all__ = ["CUSTOM_SCHEMA_ID", "known_types", "schema_for", "validate_event"]

CUSTOM_SCHEMA_ID = "https://cdevents.dev/0.5.1/schema/custom"
FLIGHTLOG_PREFIX = "flightlog-"
_SPEC_RELEASE = "CDEvents v0.5.1"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_REASON = 200


@dataclass(frozen=True)
class _Catalogue:
    """Every vendored schema by ``$id`` and the event type each event schema accepts."""

    schemas: Mapping[str, Mapping[str, Any]]
    by_type: Mapping[str, str]
    registry: Registry[Any]


def _json_files(root: Traversable) -> Iterator[Traversable]:
    """Yield every ``*.json`` file under ``root``, depth first, in name order."""
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            yield from _json_files(entry)
        elif entry.name.endswith(".json"):
            yield entry


def _accepted_type(schema: Mapping[str, Any]) -> str | None:
    """Return the ``context.type`` an event schema pins (enum or const), if it pins one."""
    type_schema = schema.get("properties", {}).get("context", {}).get("properties", {}).get("type")
    if not isinstance(type_schema, Mapping):
        return None
    if "const" in type_schema:
        return str(type_schema["const"])
    enum = type_schema.get("enum")
    if isinstance(enum, list) and len(enum) == 1:
        return str(enum[0])
    return None


@cache
def _catalogue() -> _Catalogue:
    """Load the vendored schemas once and index them by ``$id`` and event type."""
    root = resources.files("flightlog.events") / "schemas"
    schemas: dict[str, Mapping[str, Any]] = {}
    by_type: dict[str, str] = {}
    for entry in _json_files(root):
        schema = json.loads(entry.read_text(encoding="utf-8"))
        schema_id = schema["$id"]
        schemas[schema_id] = schema
        event_type = _accepted_type(schema)
        if event_type is not None:
            by_type[event_type] = schema_id
    registry: Registry[Any] = Registry().with_resources(
        (schema_id, Resource.from_contents(schema)) for schema_id, schema in schemas.items()
    )
    return _Catalogue(schemas=schemas, by_type=by_type, registry=registry.crawl())


def known_types() -> list[str]:
    """Return every event type string with a schema, sorted."""
    return sorted(_catalogue().by_type)


def _supported_versions(name: str) -> list[str]:
    """Return the versions we ship a schema for, for the versionless type ``name``."""
    prefix = f"{name}."
    return sorted(t.removeprefix(prefix) for t in _catalogue().by_type if t.startswith(prefix))


def schema_for(event_type: EventType) -> str:
    """Return the ``$id`` of the schema that validates ``event_type``, or raise UnknownEventType."""
    catalogue = _catalogue()
    type_string = str(event_type)
    schema_id = catalogue.by_type.get(type_string)
    if schema_id is not None:
        return schema_id
    if event_type.custom and not event_type.subject.startswith(FLIGHTLOG_PREFIX):
        return CUSTOM_SCHEMA_ID
    versions = _supported_versions(event_type.name)
    where = _SPEC_RELEASE if event_type.namespace == CDEVENTS else "the Flightlog custom types"
    if versions:
        raise UnknownEventType(
            f"{type_string}: version {event_type.version} of {event_type.name} is not "
            f"supported; supported: {', '.join(versions)} ({where})",
            path="$.context.type",
        )
    raise UnknownEventType(
        f"{type_string}: unknown event type (not in {where})", path="$.context.type"
    )


@lru_cache(maxsize=1024)
def _resolve(type_string: str) -> tuple[EventType, str]:
    """Parse a type string and find its schema (cached: a log holds few distinct types)."""
    event_type = parse_event_type(type_string)
    return event_type, schema_for(event_type)


@cache
def _validator(schema_id: str) -> Draft202012Validator:
    """Compile (once) the validator that explains errors, for the schema ``schema_id``."""
    catalogue = _catalogue()
    return Draft202012Validator(catalogue.schemas[schema_id], registry=catalogue.registry)


if _RUST:

    @cache
    def _rust_registry() -> jsonschema_rs.Registry:
        """Build (once) the compiled validator's registry of every vendored schema."""
        return jsonschema_rs.Registry(
            [(schema_id, dict(schema)) for schema_id, schema in _catalogue().schemas.items()]
        )

    @cache
    def _fast_validator(schema_id: str) -> jsonschema_rs.Validator:
        """Compile (once) the compiled validator for the schema ``schema_id``."""
        return jsonschema_rs.validator_for(
            dict(_catalogue().schemas[schema_id]),
            registry=_rust_registry(),
            validate_formats=False,
            offline=True,
        )


def _fast_verdict(event: Mapping[str, Any], schema_id: str) -> bool | None:
    """Return the compiled validator's verdict on ``event``, or None if it cannot judge it."""
    if not _RUST:
        return None  # pragma: no cover
    try:
        return _fast_validator(schema_id).is_valid(event)
    except ValueError:
        return None  # a value that is not JSON (e.g. a tuple key); the slow path judges it


def _json_path(parts: Iterable[str | int]) -> str:
    """Render path elements as a JSON path such as ``$.context.links[0]``."""
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENTIFIER.fullmatch(part):
            out.append(f".{part}")
        else:
            out.append(f"[{json.dumps(part, ensure_ascii=False)}]")
    return "".join(out)


@dataclass(frozen=True, order=True)
class _Problem:
    """One schema violation: where (as path elements) and why."""

    where: tuple[tuple[int, int | str], ...]
    keyword: str
    reason: str

    @property
    def path(self) -> str:
        """Return the JSON path of the problem."""
        return _json_path(part for _, part in self.where)


def _where(parts: Iterable[str | int]) -> tuple[tuple[int, int | str], ...]:
    """Return sortable path elements (indexes and keys do not compare, so tag them)."""
    return tuple((0, p) if isinstance(p, int) else (1, p) for p in parts)


def _shorten(text: str) -> str:
    """Cut a reason to a readable length."""
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def _types(value: Any) -> str:
    """Render a JSON Schema ``type`` value as prose."""
    names = value if isinstance(value, list) else [value]
    return " or ".join(str(n) for n in names)


_REASONS: Mapping[str, Callable[[Any], str]] = {
    "type": lambda v: f"expected {_types(v)}",
    "minLength": lambda v: "must not be empty" if v == 1 else f"must be at least {v} characters",
    "maxLength": lambda v: f"must be at most {v} characters",
    "enum": lambda v: "must be one of " + ", ".join(json.dumps(x) for x in v),
    "const": lambda v: f"must be {json.dumps(v)}",
    "pattern": lambda v: f"does not match the pattern {v}",
    "minimum": lambda v: f"must be at least {v}",
    "minProperties": lambda v: f"must have at least {v} propert{'y' if v == 1 else 'ies'}",
}


def _reason(keyword: str, value: Any, message: str) -> str:
    """Say in a few words what a failed JSON Schema keyword wanted."""
    explain = _REASONS.get(keyword)
    return explain(value) if explain is not None else message


def _problem(error: ValidationError) -> _Problem:
    """Turn a jsonschema error into a located problem with a short reason."""
    parts = list(error.absolute_path)
    keyword = str(error.validator)
    instance = error.instance
    if keyword in ("anyOf", "oneOf") and error.context:
        return _alternatives(error, parts)
    if keyword == "required":
        # jsonschema reports each missing name as its own error, named in the message.
        name = next((p for p in error.validator_value if error.message.startswith(repr(p))), None)
        if name is not None:
            parts.append(name)
        reason = "is required"
    elif keyword == "additionalProperties" and isinstance(instance, dict):
        declared = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        extra = sorted(k for k in instance if k not in declared)
        if extra:
            parts.append(extra[0])
        reason = "is not allowed here (unknown property)"
    else:
        reason = _reason(keyword, error.validator_value, error.message)
    return _Problem(_where(parts), keyword, _shorten(reason))


def _alternatives(error: ValidationError, parts: list[str | int]) -> _Problem:
    """Explain an ``anyOf``/``oneOf`` failure by what its alternatives wanted."""
    subs = error.context or []
    same_place = all(list(s.absolute_path) == parts for s in subs)
    if same_place and all(s.validator == "type" for s in subs):
        wanted = " or ".join(_types(s.validator_value) for s in subs)
        return _Problem(_where(parts), "type", f"expected {wanted}")
    if same_place and all(s.validator == "required" for s in subs):
        names = [str(n) for s in subs for n in s.validator_value]
        return _Problem(_where(parts), "required", f"requires one of: {', '.join(names)}")
    best = best_match(subs)
    return _problem(best) if best is not None else _Problem(_where(parts), "anyOf", error.message)


def _first_problem(event: Mapping[str, Any], schema_id: str) -> _Problem | None:
    """Return the first problem of ``event`` in path order, or None if it is valid."""
    problems = [_problem(e) for e in _validator(schema_id).iter_errors(event)]
    context = event.get("context")
    timestamp = context.get("timestamp") if isinstance(context, Mapping) else None
    if isinstance(timestamp, str):
        try:
            utc_timestamp(timestamp)
        except ValueError as exc:
            problems.append(_Problem(_where(["context", "timestamp"]), "format", str(exc)))
    return min(problems, default=None)


def _fast_problem(event: Mapping[str, Any], schema_id: str) -> _Problem | None:
    """Return the compiled validator's first error, used when the two validators disagree."""
    if not _RUST:
        return None  # pragma: no cover
    for error in _fast_validator(schema_id).iter_errors(event):
        return _Problem(_where(error.instance_path), "schema", _shorten(error.message))
    return None


def _envelope_type(event: Any) -> str:
    """Return ``context.type`` of a candidate event, raising EventInvalid if it is absent."""
    if not isinstance(event, Mapping):
        raise EventInvalid("expected a JSON object")
    context = event.get("context")
    if context is None:
        raise EventInvalid("is required", path="$.context")
    if not isinstance(context, Mapping):
        raise EventInvalid("expected object", path="$.context")
    value = context.get("type")
    if value is None:
        raise EventInvalid("is required", path="$.context.type")
    if not isinstance(value, str):
        raise EventInvalid("expected string", path="$.context.type")
    return value


def _check(event: Mapping[str, Any]) -> EventHeader:
    """Validate ``event`` and return its header; errors carry no position yet."""
    type_string = _envelope_type(event)
    event_type, schema_id = _resolve(type_string)
    context = event["context"]
    if _fast_verdict(event, schema_id):
        try:
            time_utc = utc_timestamp(context["timestamp"])
        except ValueError as exc:
            raise EventInvalid(str(exc), path="$.context.timestamp") from None
    else:
        # Invalid (or not judged): the pure-Python validator lists every error so the
        # first one in path order can be reported, whatever order a validator finds them.
        problem = _first_problem(event, schema_id)
        if problem is None and _fast_verdict(event, schema_id) is False:
            problem = _fast_problem(event, schema_id)
        if problem is not None:
            raise EventInvalid(problem.reason, path=problem.path)
        time_utc = utc_timestamp(context["timestamp"])
    return EventHeader(
        id=context["id"],
        source=context["source"],
        type=type_string,
        timestamp=context["timestamp"],
        event_type=event_type,
        time_utc=time_utc,
    )


def _nul_path(event: Mapping[str, Any]) -> str | None:
    """The JSON path of the first string (key or value) holding U+0000, if any."""
    stack: list[tuple[list[str | int], Any]] = [([], event)]
    while stack:
        parts, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return _json_path(parts)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(key, str) and "\x00" in key:
                    return _json_path(parts)
                stack.append(([*parts, key], item))
        elif isinstance(value, list):
            stack.extend(([*parts, i], item) for i, item in enumerate(value))
    return None


def refuse_nul(event: Mapping[str, Any]) -> None:
    """Raise EventInvalid when any text in ``event`` holds a NUL character.

    PostgreSQL text cannot store U+0000 while SQLite can; refusing it everywhere gives
    the same answer on both stores.
    """
    path = _nul_path(event)
    if path is not None:
        raise EventInvalid("text must not contain NUL (U+0000)", path=path)


def validate_event(
    event: Mapping[str, Any], *, position: str | None = None, nul_free: bool = False
) -> EventHeader:
    """Validate an event against the schema of its ``context.type`` and return its header.

    ``nul_free``: the caller already knows no string holds U+0000 (skips that walk).
    """
    try:
        if not nul_free:
            refuse_nul(event)
        return _check(event)
    except EventInvalid as exc:
        if position is None:
            raise
        raise exc.at(position) from None
