"""CloudEvents HTTP binding as the official Python SDK speaks it: binary, structured, batch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from cloudevents.core.bindings.http import to_binary, to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from flightlog.errors import InputError
from flightlog.sources.cloudevents import decode_header_value
from tests.server.events import deployed
from tests.server.harness import Api, problem

EVENTS = "/api/v1/events"
BATCH = "/api/v1/events/batch"
# Identities an SDK percent-encodes in a header: space, '%', '"', and non-ASCII.
AWKWARD = [
    ("deploy 1", "https://ci.example.com/acme/pay ments"),
    ("100%-done", "urn:ci:%41"),
    ('say "hi"', 'https://ci.example.com/"quoted"'),
    ("déploiement-ü-日本", "https://ci.example.com/équipe/支付"),
]


def _event(event_id: str, source: str, timestamp: str = "2026-03-02T09:15:00.123456Z") -> Any:
    event = deployed(0, source=source)
    event["context"]["id"] = event_id
    event["context"]["timestamp"] = timestamp
    return event


def _cloud_event(event: dict[str, Any], time: str | None = None) -> CloudEvent:
    ctx = event["context"]
    return CloudEvent(
        attributes={
            "id": ctx["id"],
            "source": ctx["source"],
            "type": ctx["type"],
            "time": datetime.fromisoformat(time or ctx["timestamp"]),
            "subject": event["subject"]["id"],
            "datacontenttype": "application/json",
        },
        data=event,
    )


class TestSdkBinaryMode:
    """``to_binary`` of the Python SDK: every ``ce-*`` value percent-encoded."""

    @pytest.mark.parametrize(("event_id", "source"), AWKWARD)
    def test_awkward_identities_round_trip(self, api: Api, event_id: str, source: str) -> None:
        """Ids and sources with space, %, " or non-ASCII are recorded exactly as sent."""
        event = _event(event_id, source)
        message = to_binary(_cloud_event(event), JSONFormat())
        assert any("%" in value for value in message.headers.values())
        r = api.client.post(EVENTS, content=message.body, headers={**api.auth(), **message.headers})
        assert r.status_code == 201, r.text
        leaf = api.flightlog.show(r.json()["index"]).leaf
        assert (leaf.id, leaf.source) == (event_id, source)

    def test_time_cut_to_milliseconds_is_accepted(self, api: Api) -> None:
        """A ce-time of the body's timestamp cut to ms agrees; the body's value is recorded."""
        event = _event("ms-1", "https://ci.example.com/ms", "2026-03-02T09:15:00.123456Z")
        message = to_binary(_cloud_event(event, "2026-03-02T09:15:00.123Z"), JSONFormat())
        r = api.client.post(EVENTS, content=message.body, headers={**api.auth(), **message.headers})
        assert r.status_code == 201, r.text
        recorded = api.flightlog.show(0).event
        assert recorded is not None
        assert recorded["context"]["timestamp"] == "2026-03-02T09:15:00.123456Z"

    def test_time_off_by_a_millisecond_is_refused(self, api: Api) -> None:
        """A ce-time that is not the body's instant, even cut, answers 422 on the timestamp."""
        event = _event("ms-2", "https://ci.example.com/ms", "2026-03-02T09:15:00.123456Z")
        message = to_binary(_cloud_event(event, "2026-03-02T09:15:00.124Z"), JSONFormat())
        r = api.client.post(EVENTS, content=message.body, headers={**api.auth(), **message.headers})
        assert r.status_code == 422
        assert problem(r)["path"] == "$.context.timestamp"


class TestSdkStructuredMode:
    """``to_structured`` of the Python SDK, single and batched."""

    @pytest.mark.parametrize(("event_id", "source"), AWKWARD)
    def test_awkward_identities_round_trip(self, api: Api, event_id: str, source: str) -> None:
        """A structured CloudEvent with an awkward id and source is recorded as sent."""
        event = _event(event_id, source)
        message = to_structured(_cloud_event(event), JSONFormat())
        r = api.client.post(EVENTS, content=message.body, headers={**api.auth(), **message.headers})
        assert r.status_code == 201, r.text
        assert api.flightlog.show(0).event == event

    def test_empty_batch_records_nothing(self, api: Api) -> None:
        """An empty application/cloudevents-batch+json array answers 200 with no results."""
        r = api.client.post(
            BATCH,
            content=b"[]",
            headers={**api.auth(), "content-type": "application/cloudevents-batch+json"},
        )
        assert r.status_code == 200
        assert r.json() == {"results": []}
        assert api.flightlog.tree_size() == 0

    def test_batch_of_sdk_events(self, api: Api) -> None:
        """A batch of SDK-serialised events records each at consecutive indices."""
        events = [_event(event_id, source) for event_id, source in AWKWARD]
        body = "[" + ",".join(
            to_structured(_cloud_event(e), JSONFormat()).body.decode() for e in events
        )
        r = api.client.post(
            BATCH,
            content=(body + "]").encode(),
            headers={**api.auth(), "content-type": "application/cloudevents-batch+json"},
        )
        assert r.status_code == 201, r.text
        assert [x["index"] for x in r.json()["results"]] == [0, 1, 2, 3]
        assert [api.flightlog.show(i).leaf.id for i in range(4)] == [e for e, _ in AWKWARD]


class TestHeaderDecoding:
    """Decoding one ``ce-*`` value per the HTTP binding §3.1.3.2."""

    def test_percent_decoding_is_utf8(self) -> None:
        """%C3%A9 decodes to é and %25 to %."""
        assert decode_header_value("ce-id", "caf%C3%A9%2025%25") == "café 25%"

    def test_quoted_string_is_unquoted_first(self) -> None:
        """A quoted-string loses its quotes and escapes before percent-decoding."""
        assert decode_header_value("ce-id", '"a\\"b%20c"') == 'a"b c'

    def test_raw_non_ascii_is_refused(self) -> None:
        """A raw non-ASCII character is refused naming the header and the rule."""
        with pytest.raises(InputError, match=r"ce-source .*percent-encode"):
            decode_header_value("ce-source", "é")

    def test_invalid_utf8_is_refused(self) -> None:
        """%FF is not UTF-8 and is refused naming the header."""
        with pytest.raises(InputError, match="ce-id is not valid percent-encoded UTF-8"):
            decode_header_value("ce-id", "%FF")

    def test_plain_values_are_unchanged(self) -> None:
        """A value without % or quotes is taken as it is."""
        value = "https://ci.example.com/acme/payments"
        assert decode_header_value("ce-source", value) == value
