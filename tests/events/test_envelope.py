"""Tests of event type strings and timestamps."""

from __future__ import annotations

import pytest

from flightlog.errors import UnknownEventType
from flightlog.events.envelope import ERASURE_TYPE, EventType, parse_event_type, utc_timestamp


class TestParseEventType:
    """parse_event_type: the CDEvents type grammar."""

    def test_spec_type(self) -> None:
        """A spec type splits into namespace, subject, predicate and version."""
        parsed = parse_event_type("dev.cdevents.service.deployed.0.3.0")
        assert parsed == EventType("dev.cdevents", "service", "deployed", "0.3.0")
        assert parsed.name == "dev.cdevents.service.deployed"
        assert str(parsed) == "dev.cdevents.service.deployed.0.3.0"

    def test_custom_type(self) -> None:
        """A custom type keeps its tool-prefixed subject."""
        parsed = parse_event_type("dev.cdeventsx.mytool-resource.created.0.1.0")
        assert (parsed.namespace, parsed.subject, parsed.custom) == (
            "dev.cdeventsx",
            "mytool-resource",
            True,
        )

    def test_erasure_type(self) -> None:
        """The erasure type is a Flightlog custom type."""
        assert parse_event_type(ERASURE_TYPE).name == "dev.cdeventsx.flightlog-payload.erased"

    @pytest.mark.parametrize(
        "value",
        [
            "com.example.build.finished.1.0.0",
            "dev.cdevents.service.deployed",
            "dev.cdevents.service.deployed.0.3",
            "dev.cdevents.service.deployed.0.3.0\n",
            "dev.cdevents.service.deployed.01.3.0",
            "",
        ],
    )
    def test_not_cdevents_form(self, value: str) -> None:
        """Strings outside the grammar are unknown types naming the value."""
        with pytest.raises(
            UnknownEventType, match=r"^\$\.context\.type: .* is not a CDEvents type"
        ):
            parse_event_type(value)

    def test_custom_subject_without_tool(self) -> None:
        """A dev.cdeventsx type needs the <tool>- prefix on its subject."""
        with pytest.raises(UnknownEventType, match=r"custom types are dev\.cdeventsx\.<tool>-"):
            parse_event_type("dev.cdeventsx.resource.created.0.1.0")

    def test_spec_subject_with_tool(self) -> None:
        """A dev.cdevents type never has a tool prefix."""
        with pytest.raises(UnknownEventType, match=r"spec types have no '-'"):
            parse_event_type("dev.cdevents.mytool-resource.created.0.1.0")


class TestUtcTimestamp:
    """utc_timestamp: RFC 3339 date-times normalised to sortable UTC."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("2023-03-20T14:27:05.315384Z", "2023-03-20T14:27:05.315384Z"),
            ("2023-03-20T14:27:05Z", "2023-03-20T14:27:05.000000Z"),
            ("2023-03-20t14:27:05.3z", "2023-03-20T14:27:05.300000Z"),
            ("2023-03-20T14:27:05.123456789Z", "2023-03-20T14:27:05.123456Z"),
            ("2023-03-20T00:12:40+02:30", "2023-03-19T21:42:40.000000Z"),
            ("2023-12-31T23:30:00-01:00", "2024-01-01T00:30:00.000000Z"),
            ("2024-02-29T12:00:00Z", "2024-02-29T12:00:00.000000Z"),
            ("2016-12-31T23:59:60Z", "2016-12-31T23:59:59.999999Z"),
        ],
    )
    def test_normalises(self, value: str, expected: str) -> None:
        """Offsets are applied, fractions padded or cut to microseconds."""
        assert utc_timestamp(value) == expected

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            ("2023-03-20 14:27:05Z", "not an RFC 3339 date-time"),
            ("2023-03-20T14:27:05", "not an RFC 3339 date-time"),
            ("20230320T142705Z", "not an RFC 3339 date-time"),
            ("2023-02-29T00:00:00Z", "day is out of range for month"),
            ("2023-13-01T00:00:00Z", "month must be in 1..12"),
            ("2023-01-01T24:00:00Z", "hour must be in 0..23"),
            ("2023-01-01T00:00:00+24:00", "time zone offset out of range"),
            ("0001-01-01T00:00:00+01:00", "date or time out of range"),
        ],
    )
    def test_rejects(self, value: str, reason: str) -> None:
        """Malformed or impossible date-times raise ValueError with the reason."""
        with pytest.raises(ValueError, match=reason):
            utc_timestamp(value)
