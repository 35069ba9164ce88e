"""Tests of event validation against the vendored CDEvents and Flightlog schemas."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from flightlog.errors import EventInvalid, UnknownEventType
from flightlog.events import validation
from flightlog.events.envelope import ERASURE_TYPE
from flightlog.events.validation import known_types, validate_event
from tests.events.corpus import (
    CDEVENTS_CORPUS,
    CONFORMANCE_FILES,
    CUSTOM_CONFORMANCE,
    FIXTURE_FILES,
    ROOT,
    conformance,
    fixture,
    load,
)

VENDORED = ROOT / "src" / "flightlog" / "events" / "schemas" / "cdevents"
FLIGHTLOG_TYPES = [
    "dev.cdeventsx.flightlog-approval.granted.0.1.0",
    "dev.cdeventsx.flightlog-approval.rejected.0.1.0",
    "dev.cdeventsx.flightlog-commit.pushed.0.1.0",
    "dev.cdeventsx.flightlog-deployment.finished.0.1.0",
    "dev.cdeventsx.flightlog-deployment.started.0.1.0",
    "dev.cdeventsx.flightlog-deployment.updated.0.1.0",
    "dev.cdeventsx.flightlog-payload.erased.0.1.0",
    "dev.cdeventsx.flightlog-policy.evaluated.0.1.0",
    "dev.cdeventsx.flightlog-rollback.finished.0.1.0",
    "dev.cdeventsx.flightlog-rollback.requested.0.1.0",
    "dev.cdeventsx.flightlog-tag.created.0.1.0",
    "dev.cdeventsx.flightlog-tag.deleted.0.1.0",
    "dev.cdeventsx.flightlog-taskrun.queued.0.1.0",
    "dev.cdeventsx.flightlog-vulnerabilityscan.finished.0.1.0",
    "dev.cdeventsx.flightlog-webhook.received.0.1.0",
]


def changed(event: Any, path: list[str], value: Any = None, *, delete: bool = False) -> Any:
    """Return a deep copy of ``event`` with the value at ``path`` replaced or deleted."""
    copied = copy.deepcopy(event)
    parent = copied
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return copied


class TestConformance:
    """Every CDEvents v0.5.1 conformance event validates."""

    def test_all_45_found(self) -> None:
        """The corpus holds the 45 conformance events of v0.5.1."""
        assert len(CONFORMANCE_FILES) == 45

    @pytest.mark.parametrize("path", CONFORMANCE_FILES, ids=lambda p: p.stem)
    def test_conformance_event_validates(self, path: Path) -> None:
        """A spec conformance event validates and its header echoes its context."""
        event = load(path)
        header = validate_event(event)
        assert (header.id, header.source, header.type) == (
            event["context"]["id"],
            event["context"]["source"],
            event["context"]["type"],
        )
        assert header.event_type.subject == path.stem.split("_")[0]

    @pytest.mark.parametrize("path", CONFORMANCE_FILES, ids=lambda p: p.stem)
    def test_explaining_validator_agrees(self, path: Path) -> None:
        """The pure-Python validator finds no problem in a conformance event either."""
        event = load(path)
        schema_id = validation.schema_for(validate_event(event).event_type)
        assert validation._first_problem(event, schema_id) is None

    def test_custom_conformance_validates(self) -> None:
        """The spec's custom event example validates against the custom schema."""
        header = validate_event(load(CUSTOM_CONFORMANCE))
        assert header.type == "dev.cdeventsx.mytool-resource.created.0.1.0"
        assert header.time_utc == "2023-03-20T14:27:05.315384Z"


class TestVendoredSchemas:
    """The vendored schemas are the spec's files, found as package data."""

    def test_vendored_files_are_identical(self) -> None:
        """All 53 schemas and the custom schema are byte-for-byte copies."""
        sources = sorted((CDEVENTS_CORPUS / "schemas").rglob("*.json"))
        assert len(sources) == 53
        for source in sources:
            relative = source.relative_to(CDEVENTS_CORPUS / "schemas")
            assert (VENDORED / relative).read_bytes() == source.read_bytes(), relative
        custom = CDEVENTS_CORPUS / "custom" / "schema.json"
        assert (VENDORED / "custom" / "schema.json").read_bytes() == custom.read_bytes()

    def test_licence_shipped(self) -> None:
        """The Apache-2.0 licence travels with the vendored schemas."""
        assert "Apache License" in (VENDORED / "LICENSE").read_text(encoding="utf-8")
        assert "v0.5.1" in (VENDORED / "README.md").read_text(encoding="utf-8")


class TestKnownTypes:
    """known_types: the type strings with a schema."""

    def test_spec_and_flightlog_types(self) -> None:
        """45 spec types plus our 15 custom types, sorted."""
        types = known_types()
        assert types == sorted(types)
        assert len(types) == 60
        assert [t for t in types if "flightlog-" in t] == FLIGHTLOG_TYPES
        assert "dev.cdevents.change.created.0.4.0" in types
        assert ERASURE_TYPE in types


class TestCustomTypes:
    """Our custom types validate by their own schemas."""

    def test_one_fixture_per_type(self) -> None:
        """There is one valid fixture for each Flightlog type."""
        assert sorted(load(p)["context"]["type"] for p in FIXTURE_FILES) == FLIGHTLOG_TYPES

    @pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
    def test_fixture_validates(self, path: Path) -> None:
        """A valid example of each custom type validates, by both validators."""
        event = load(path)
        header = validate_event(event)
        assert header.type == event["context"]["type"]
        assert validation._first_problem(event, validation.schema_for(header.event_type)) is None

    @pytest.mark.parametrize(
        ("name", "path", "value", "expected"),
        [
            (
                "flightlog-vulnerabilityscan-finished",
                ["subject", "content", "counts", "high"],
                -1,
                r"\$\.subject\.content\.counts\.high: must be at least 0",
            ),
            (
                "flightlog-vulnerabilityscan-finished",
                ["subject", "content", "findings", 1, "severity"],
                "severe",
                r"\$\.subject\.content\.findings\[1\]\.severity: must be one of",
            ),
            (
                "flightlog-approval-granted",
                ["subject", "content", "environment"],
                "production",
                r"\$\.subject\.content\.environment: expected object",
            ),
            (
                "flightlog-policy-evaluated",
                ["subject", "content", "verdict"],
                "maybe",
                r'\$\.subject\.content\.verdict: must be one of "pass", "fail", "warn"',
            ),
            (
                "flightlog-policy-evaluated",
                ["subject", "content", "target"],
                {},
                r"\$\.subject\.content\.target: must have at least 1 property",
            ),
            (
                "flightlog-rollback-finished",
                ["subject", "content", "outcome"],
                "partial",
                r"\$\.subject\.content\.outcome: must be one of",
            ),
            (
                "flightlog-rollback-requested",
                ["subject", "content", "outcome"],
                "success",
                r"\$\.subject\.content\.outcome: is not allowed here",
            ),
            (
                "flightlog-payload-erased",
                ["subject", "content", "payloadSha256"],
                "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                r"\$\.subject\.content\.payloadSha256: does not match the pattern",
            ),
            (
                "flightlog-payload-erased",
                ["subject", "content", "index"],
                -3,
                r"\$\.subject\.content\.index: must be at least 0",
            ),
            (
                "flightlog-payload-erased",
                ["subject", "content", "reason"],
                "",
                r"\$\.subject\.content\.reason: must not be empty",
            ),
        ],
    )
    def test_invalid_variant_rejected_with_path(
        self, name: str, path: list[Any], value: Any, expected: str
    ) -> None:
        """A broken field of a custom type is reported at its JSON path."""
        with pytest.raises(EventInvalid, match=rf"^{name}\.json: {expected}"):
            validate_event(changed(fixture(name), path, value), position=f"{name}.json")

    def test_approval_needs_artifact_or_change(self) -> None:
        """An approval naming neither artifact nor change is refused."""
        event = changed(
            fixture("flightlog-approval-rejected"), ["subject", "content", "change"], delete=True
        )
        with pytest.raises(
            EventInvalid,
            match=r"^\$\.subject\.content: requires one of: artifactId, change, deployment$",
        ):
            validate_event(event)

    def test_erasure_missing_field(self) -> None:
        """An erasure without erasedBy names the missing field."""
        event = changed(
            fixture("flightlog-payload-erased"), ["subject", "content", "erasedBy"], delete=True
        )
        with pytest.raises(EventInvalid, match=r"^\$\.subject\.content\.erasedBy: is required$"):
            validate_event(event)

    def test_third_party_custom_content_is_free(self) -> None:
        """A third-party custom type accepts any content object."""
        event = changed(load(CUSTOM_CONFORMANCE), ["subject", "content"], {"anything": [1, 2]})
        assert validate_event(event).event_type.subject == "mytool-resource"

    def test_third_party_custom_type_checked_by_pattern(self) -> None:
        """A third-party type outside the custom schema's pattern is refused."""
        event = changed(
            load(CUSTOM_CONFORMANCE),
            ["context", "type"],
            "dev.cdeventsx.mytool-resource.created.10.0.0",
        )
        with pytest.raises(EventInvalid, match=r"^\$\.context\.type: does not match the pattern"):
            validate_event(event)


class TestErrors:
    """One test per kind of invalid event."""

    def test_not_an_object(self) -> None:
        """A non-object is not an event."""
        with pytest.raises(EventInvalid, match=r"^e\.json\[0\]: \$: expected a JSON object$"):
            validate_event([1, 2], position="e.json[0]")  # type: ignore[arg-type]

    def test_missing_context(self) -> None:
        """An event without context names $.context."""
        with pytest.raises(EventInvalid, match=r"^\$\.context: is required$"):
            validate_event({"subject": {}})

    def test_context_not_object(self) -> None:
        """A context that is not an object is refused at $.context."""
        with pytest.raises(EventInvalid, match=r"^\$\.context: expected object$"):
            validate_event({"context": "x", "subject": {}})

    def test_type_not_string(self) -> None:
        """A non-string type is refused at $.context.type."""
        event = changed(conformance("service_deployed"), ["context", "type"], 3)
        with pytest.raises(EventInvalid, match=r"^\$\.context\.type: expected string$"):
            validate_event(event)

    def test_unknown_type(self) -> None:
        """A spec-shaped type with no schema is an UnknownEventType naming it."""
        event = changed(
            conformance("service_deployed"),
            ["context", "type"],
            "dev.cdevents.service.exploded.0.3.0",
        )
        with pytest.raises(
            UnknownEventType,
            match=r"^ev\.json: \$\.context\.type: "
            r"dev\.cdevents\.service\.exploded\.0\.3\.0: unknown event type",
        ):
            validate_event(event, position="ev.json")

    def test_not_cdevents_type(self) -> None:
        """A type outside the CDEvents grammar is an UnknownEventType."""
        event = changed(conformance("build_started"), ["context", "type"], "com.github.push")
        with pytest.raises(UnknownEventType, match=r"'com\.github\.push' is not a CDEvents type"):
            validate_event(event)

    def test_wrong_version_of_known_type(self) -> None:
        """A known type at another version says which version is supported."""
        event = changed(
            conformance("change_created"), ["context", "type"], "dev.cdevents.change.created.0.3.0"
        )
        with pytest.raises(
            UnknownEventType,
            match=r"version 0\.3\.0 of dev\.cdevents\.change\.created is not supported; "
            r"supported: 0\.4\.0 \(CDEvents v0\.5\.1\)",
        ):
            validate_event(event)

    def test_unknown_flightlog_type(self) -> None:
        """A flightlog- custom type we do not define is unknown, not free-form custom."""
        event = changed(
            fixture("flightlog-payload-erased"),
            ["context", "type"],
            "dev.cdeventsx.flightlog-payload.purged.0.1.0",
        )
        with pytest.raises(
            UnknownEventType, match=r"unknown event type \(not in the Flightlog custom types\)"
        ):
            validate_event(event)

    def test_missing_context_id(self) -> None:
        """A missing context.id is named by its path."""
        event = changed(conformance("service_deployed"), ["context", "id"], delete=True)
        with pytest.raises(EventInvalid, match=r"^\$\.context\.id: is required$") as caught:
            validate_event(event)
        assert caught.value.path == "$.context.id"

    def test_bad_timestamp(self) -> None:
        """A timestamp that is not RFC 3339 is refused at its path."""
        event = changed(
            conformance("service_deployed"), ["context", "timestamp"], "20/03/2023 14:27"
        )
        with pytest.raises(
            EventInvalid, match=r"^\$\.context\.timestamp: not an RFC 3339 date-time"
        ):
            validate_event(event)

    def test_impossible_timestamp(self) -> None:
        """A well-formed but impossible date is refused."""
        event = changed(
            conformance("service_deployed"), ["context", "timestamp"], "2023-02-30T00:00:00Z"
        )
        with pytest.raises(EventInvalid, match=r"^\$\.context\.timestamp: .*day is out of range"):
            validate_event(event)

    def test_first_error_in_path_order(self) -> None:
        """With several problems the one first in path order is reported."""
        event = changed(conformance("service_deployed"), ["context", "timestamp"], "yesterday")
        event = changed(event, ["subject", "id"], delete=True)
        event = changed(event, ["context", "source"], delete=True)
        with pytest.raises(EventInvalid, match=r"^\$\.context\.source: is required$"):
            validate_event(event)

    def test_unknown_property(self) -> None:
        """An undeclared property is named, not just its parent."""
        event = changed(conformance("service_deployed"), ["subject", "content", "version"], "1.2.3")
        with pytest.raises(
            EventInvalid, match=r"^\$\.subject\.content\.version: is not allowed here"
        ):
            validate_event(event)

    def test_missing_required_content(self) -> None:
        """A required content field of a spec type is named."""
        event = changed(
            conformance("service_deployed"), ["subject", "content", "artifactId"], delete=True
        )
        with pytest.raises(EventInvalid, match=r"^\$\.subject\.content\.artifactId: is required$"):
            validate_event(event)

    def test_bad_link(self) -> None:
        """A malformed link is located inside context.links."""
        event = changed(
            conformance("service_deployed"), ["context", "links"], [{"linkType": "PATH"}]
        )
        with pytest.raises(EventInvalid, match=r"^\$\.context\.links\[0\]\.from: is required$"):
            validate_event(event)

    def test_custom_data_wrong_type(self) -> None:
        """customData must be an object or a base64 string."""
        event = changed(conformance("service_deployed"), ["customData"], 42)
        with pytest.raises(EventInvalid, match=r"^\$\.customData: expected object or string$"):
            validate_event(event)

    def test_empty_id(self) -> None:
        """An empty id is refused as empty."""
        event = changed(conformance("build_finished"), ["context", "id"], "")
        with pytest.raises(EventInvalid, match=r"^\$\.context\.id: must not be empty$"):
            validate_event(event)

    def test_non_json_value_still_judged(self) -> None:
        """A value the compiled validator cannot read (a tuple key) is judged by the other."""
        event = changed(conformance("build_finished"), ["customData"], {(1, 2): "x"})
        assert validate_event(event).type == "dev.cdevents.build.finished.0.3.0"


class TestHeader:
    """validate_event returns the header other modules index by."""

    def test_time_utc_from_offset(self) -> None:
        """time_utc is the timestamp moved to UTC with microseconds."""
        header = validate_event(fixture("flightlog-rollback-requested"))
        assert header.timestamp == "2026-03-02T00:12:40+01:00"
        assert header.time_utc == "2026-03-01T23:12:40.000000Z"

    def test_header_fields(self) -> None:
        """The header carries id, source, type and the parsed type."""
        header = validate_event(fixture("flightlog-payload-erased"))
        assert (header.id, header.source, header.type) == (
            "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a",
            "https://ci.example.com/acme/payments",
            ERASURE_TYPE,
        )
        assert header.event_type.predicate == "erased"

    def test_validation_does_not_modify_event(self) -> None:
        """Validation leaves the event untouched."""
        event = conformance("incident_reported")
        before = json.dumps(event, sort_keys=True)
        validate_event(event)
        assert json.dumps(event, sort_keys=True) == before
