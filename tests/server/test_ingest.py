"""Ingest over HTTP: single events in three modes, batches, and every refusal."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import ClassVar

import pytest

from flightlog.ledger.entry import leaf_hash_of
from tests.server.events import DEPLOYED, binary_headers, deployed, structured
from tests.server.harness import Api, problem

EVENTS = "/api/v1/events"
BATCH = "/api/v1/events/batch"


def _count(api: Api) -> int:
    return api.flightlog.tree_size()


class TestSingleEvent:
    """``POST /api/v1/events`` with ``application/json``."""

    def test_new_event_is_created_with_its_index(self, api: Api) -> None:
        """A new event answers 201 with index 0, its leaf hash and a Location."""
        r = api.client.post(EVENTS, json=deployed(1), headers=api.auth())
        assert r.status_code == 201
        body = r.json()
        assert body["index"] == 0
        assert body["duplicate"] is False
        assert r.headers["location"] == "/api/v1/events/0"
        leaf = api.flightlog.show(0).to_wire()["leaf"]
        assert leaf["id"] == "deploy-1"
        assert base64.b64decode(body["leaf_hash"]) == leaf_hash_of(leaf)

    def test_resubmission_is_an_idempotent_200(self, api: Api) -> None:
        """The same event twice answers 200 the second time with the same index."""
        first = api.client.post(EVENTS, json=deployed(1), headers=api.auth()).json()
        r = api.client.post(EVENTS, json=deployed(1), headers=api.auth())
        assert r.status_code == 200
        assert r.json() == {**first, "duplicate": True}
        assert _count(api) == 1

    def test_same_id_other_content_is_a_409_naming_the_original(self, api: Api) -> None:
        """Same source and id with other content answers 409 with original_index."""
        api.client.post(EVENTS, json=deployed(0, service="other"), headers=api.auth())
        api.client.post(EVENTS, json=deployed(1), headers=api.auth())
        r = api.client.post(EVENTS, json=deployed(1, env="staging"), headers=api.auth())
        assert r.status_code == 409
        body = problem(r)
        assert body["original_index"] == 1
        assert body["type"].endswith(":conflict")
        assert _count(api) == 2

    def test_malformed_json_is_a_400_naming_line_and_column(self, api: Api) -> None:
        """Broken JSON answers 400 problem+json with where it broke."""
        r = api.client.post(
            EVENTS,
            content=b'{"context": ',
            headers={**api.auth(), "content-type": "application/json"},
        )
        assert r.status_code == 400
        assert "line 1, column 13" in problem(r)["detail"]

    def test_duplicate_keys_are_malformed(self, api: Api) -> None:
        """An object with a repeated key cannot be canonicalised and answers 400."""
        r = api.client.post(
            EVENTS,
            content=b'{"a": 1, "a": 2}',
            headers={**api.auth(), "content-type": "application/json"},
        )
        assert r.status_code == 400
        assert "duplicate object key 'a'" in problem(r)["detail"]

    def test_schema_violation_is_a_422_naming_the_json_path(self, api: Api) -> None:
        """A missing context.id answers 422 with path $.context.id."""
        event = deployed(1)
        del event["context"]["id"]
        r = api.client.post(EVENTS, json=event, headers=api.auth())
        assert r.status_code == 422
        body = problem(r)
        assert body["path"] == "$.context.id"
        assert body["position"] == "body"
        assert _count(api) == 0

    def test_unknown_type_is_a_422_of_its_own_type(self, api: Api) -> None:
        """An unknown event type answers 422 typed unknown-event-type."""
        event = deployed(1)
        event["context"]["type"] = "dev.cdevents.nothing.happened.0.1.0"
        r = api.client.post(EVENTS, json=event, headers=api.auth())
        assert r.status_code == 422
        body = problem(r)
        assert body["type"].endswith(":unknown-event-type")
        assert body["path"] == "$.context.type"

    def test_a_json_array_is_not_one_event(self, api: Api) -> None:
        """An array sent to the single-event endpoint answers 422."""
        r = api.client.post(EVENTS, json=[deployed(1)], headers=api.auth())
        assert r.status_code == 422
        assert "JSON object" in problem(r)["detail"]

    def test_wrong_content_type_is_a_415(self, api: Api) -> None:
        """A text/plain body answers 415 naming the accepted types."""
        r = api.client.post(
            EVENTS,
            content=json.dumps(deployed(1)),
            headers={**api.auth(), "content-type": "text/plain"},
        )
        assert r.status_code == 415
        assert "application/cloudevents+json" in problem(r)["detail"]

    def test_non_utf8_charset_is_a_415(self, api: Api) -> None:
        """A declared latin-1 charset answers 415."""
        r = api.client.post(
            EVENTS,
            content=json.dumps(deployed(1)),
            headers={**api.auth(), "content-type": "application/json; charset=latin-1"},
        )
        assert r.status_code == 415
        assert "UTF-8" in problem(r)["detail"]

    def test_declared_oversize_body_is_a_413_before_reading(self, api: Api) -> None:
        """A Content-Length over the limit answers 413 naming the limit."""
        limit = api.state.settings.max_body_bytes
        r = api.client.post(
            EVENTS,
            content=b" " * (limit + 1),
            headers={**api.auth(), "content-type": "application/json"},
        )
        assert r.status_code == 413
        assert str(limit) in problem(r)["detail"]

    def test_streamed_oversize_body_is_a_413(self, api: Api) -> None:
        """A chunked body without Content-Length is cut off at the limit with 413."""
        limit = api.state.settings.max_body_bytes
        chunk = b" " * 65536

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(limit // len(chunk) + 2):
                yield chunk

        r = api.client.post(
            EVENTS, content=chunks(), headers={**api.auth(), "content-type": "application/json"}
        )
        assert "content-length" not in r.request.headers
        assert r.status_code == 413
        assert f"over the {limit}-byte limit" in problem(r)["detail"]

    def test_bad_content_length_is_a_400(self, api: Api) -> None:
        """A Content-Length that is not a number answers 400."""
        r = api.client.post(
            EVENTS,
            content=b"{}",
            headers={**api.auth(), "content-type": "application/json", "content-length": "abc"},
        )
        assert r.status_code == 400
        assert "Content-Length 'abc'" in problem(r)["detail"]

    def test_empty_body_is_a_400(self, api: Api) -> None:
        """An empty body answers 400 malformed-input."""
        r = api.client.post(
            EVENTS, content=b"", headers={**api.auth(), "content-type": "application/json"}
        )
        assert r.status_code == 400
        assert problem(r)["type"].endswith(":malformed-input")


class TestStructuredMode:
    """``application/cloudevents+json``: the CDEvent inside a CloudEvent envelope."""

    HEADERS: ClassVar[dict[str, str]] = {"content-type": "application/cloudevents+json"}

    def test_agreeing_envelope_records_the_inner_cdevent(self, api: Api) -> None:
        """A matching envelope answers 201 and records the CDEvent, not the envelope."""
        r = api.client.post(
            EVENTS,
            content=json.dumps(structured(deployed(7))),
            headers={**api.auth(), **self.HEADERS},
        )
        assert r.status_code == 201
        assert api.flightlog.show(r.json()["index"]).event == deployed(7)

    def test_equal_instant_in_other_notation_agrees(self, api: Api) -> None:
        """A ce time with an offset naming the same instant as the timestamp is accepted."""
        envelope = structured(deployed(7), time="2026-03-02T10:15:00.123456+01:00")
        r = api.client.post(
            EVENTS, content=json.dumps(envelope), headers={**api.auth(), **self.HEADERS}
        )
        assert r.status_code == 201

    def test_mismatched_id_is_a_422_naming_the_context_path(self, api: Api) -> None:
        """A ce id other than context.id answers 422 with path $.context.id."""
        envelope = structured(deployed(7), id="something-else")
        r = api.client.post(
            EVENTS, content=json.dumps(envelope), headers={**api.auth(), **self.HEADERS}
        )
        assert r.status_code == 422
        body = problem(r)
        assert body["path"] == "$.context.id"
        assert "'something-else'" in body["detail"]
        assert _count(api) == 0

    def test_mismatched_time_is_a_422(self, api: Api) -> None:
        """A ce time other than context.timestamp answers 422 with its path."""
        envelope = structured(deployed(7), time="2026-03-02T09:16:00Z")
        r = api.client.post(
            EVENTS, content=json.dumps(envelope), headers={**api.auth(), **self.HEADERS}
        )
        assert r.status_code == 422
        assert problem(r)["path"] == "$.context.timestamp"

    def test_mismatched_subject_is_a_422(self, api: Api) -> None:
        """A ce subject other than subject.id answers 422."""
        envelope = structured(deployed(7), subject="not-payments")
        r = api.client.post(
            EVENTS, content=json.dumps(envelope), headers={**api.auth(), **self.HEADERS}
        )
        assert r.status_code == 422
        assert problem(r)["path"] == "$.subject.id"

    def test_other_specversion_is_a_422(self, api: Api) -> None:
        """CloudEvents specversion 0.3 answers 422 at $.specversion."""
        envelope = structured(deployed(7), specversion="0.3")
        r = api.client.post(
            EVENTS, content=json.dumps(envelope), headers={**api.auth(), **self.HEADERS}
        )
        assert r.status_code == 422
        assert problem(r)["path"] == "$.specversion"

    def test_missing_data_is_a_422(self, api: Api) -> None:
        """An envelope without data answers 422 at $.data."""
        envelope = structured(deployed(7))
        del envelope["data"]
        r = api.client.post(
            EVENTS, content=json.dumps(envelope), headers={**api.auth(), **self.HEADERS}
        )
        assert r.status_code == 422
        assert problem(r)["path"] == "$.data"

    def test_invalid_inner_event_names_its_schema_path(self, api: Api) -> None:
        """A CDEvent breaking its schema inside the envelope answers 422 with its path."""
        event = deployed(7)
        del event["subject"]["content"]["environment"]
        r = api.client.post(
            EVENTS, content=json.dumps(structured(event)), headers={**api.auth(), **self.HEADERS}
        )
        assert r.status_code == 422
        assert problem(r)["path"].startswith("$.subject.content")


class TestBinaryMode:
    """CloudEvents binary mode: ``ce-*`` headers and the CDEvent as the body."""

    def test_agreeing_headers_record_the_event(self, api: Api) -> None:
        """Headers matching the body answer 201."""
        event = deployed(3)
        r = api.client.post(
            EVENTS, content=json.dumps(event), headers={**api.auth(), **binary_headers(event)}
        )
        assert r.status_code == 201
        assert api.flightlog.show(0).leaf.id == "deploy-3"

    def test_disagreeing_source_header_is_a_422(self, api: Api) -> None:
        """A ce-source other than context.source answers 422 naming the header."""
        event = deployed(3)
        headers = binary_headers(event, ce_source="/elsewhere")
        r = api.client.post(EVENTS, content=json.dumps(event), headers={**api.auth(), **headers})
        assert r.status_code == 422
        body = problem(r)
        assert body["path"] == "$.context.source"
        assert "header ce-source" in body["detail"]
        assert _count(api) == 0

    def test_disagreeing_type_header_is_a_422(self, api: Api) -> None:
        """A ce-type other than context.type answers 422."""
        event = deployed(3)
        headers = binary_headers(event, ce_type="dev.cdevents.service.removed.0.3.0")
        r = api.client.post(EVENTS, content=json.dumps(event), headers={**api.auth(), **headers})
        assert r.status_code == 422
        assert problem(r)["path"] == "$.context.type"

    def test_missing_required_header_is_a_400(self, api: Api) -> None:
        """A binary-mode request without ce-type answers 400 naming the header."""
        event = deployed(3)
        headers = binary_headers(event)
        del headers["ce-type"]
        r = api.client.post(EVENTS, content=json.dumps(event), headers={**api.auth(), **headers})
        assert r.status_code == 400
        assert "ce-type" in problem(r)["detail"]


class TestBatch:
    """``POST /api/v1/events/batch``: atomic, up to 10,000 events."""

    def test_batch_gets_consecutive_indices(self, api: Api) -> None:
        """Three new events answer 201 with indices 0, 1, 2 in order."""
        r = api.client.post(BATCH, json=[deployed(i) for i in range(3)], headers=api.auth())
        assert r.status_code == 201
        assert [x["index"] for x in r.json()["results"]] == [0, 1, 2]
        assert [x["duplicate"] for x in r.json()["results"]] == [False] * 3

    def test_one_bad_event_fails_the_batch_naming_its_position(self, api: Api) -> None:
        """A bad event at [2] answers 422 with position [2] and writes nothing."""
        events = [deployed(i) for i in range(4)]
        del events[2]["context"]["timestamp"]
        r = api.client.post(BATCH, json=events, headers=api.auth())
        assert r.status_code == 422
        body = problem(r)
        assert body["position"] == "[2]"
        assert body["path"] == "$.context.timestamp"
        assert body["detail"].startswith("[2]: ")
        assert _count(api) == 0

    def test_non_object_item_names_its_position(self, api: Api) -> None:
        """A number among events answers 422 at [1]."""
        r = api.client.post(BATCH, json=[deployed(0), 5], headers=api.auth())
        assert r.status_code == 422
        assert problem(r)["position"] == "[1]"

    def test_all_duplicates_answer_200(self, api: Api) -> None:
        """A batch already recorded answers 200, every result a duplicate."""
        api.client.post(BATCH, json=[deployed(0), deployed(1)], headers=api.auth())
        r = api.client.post(BATCH, json=[deployed(1), deployed(0)], headers=api.auth())
        assert r.status_code == 200
        assert r.json()["results"] == [
            {
                "index": 1,
                "leaf_hash": api.flightlog.show(1).to_wire()["leaf_hash"],
                "duplicate": True,
            },
            {
                "index": 0,
                "leaf_hash": api.flightlog.show(0).to_wire()["leaf_hash"],
                "duplicate": True,
            },
        ]

    def test_mixed_batch_answers_201_flagging_duplicates(self, api: Api) -> None:
        """Old and new events together answer 201; only the old one is a duplicate."""
        api.client.post(EVENTS, json=deployed(0), headers=api.auth())
        r = api.client.post(BATCH, json=[deployed(0), deployed(1)], headers=api.auth())
        assert r.status_code == 201
        assert [(x["index"], x["duplicate"]) for x in r.json()["results"]] == [
            (0, True),
            (1, False),
        ]

    def test_conflict_in_batch_writes_nothing(self, api: Api) -> None:
        """A batch carrying a conflicting event answers 409 and appends none of it."""
        api.client.post(EVENTS, json=deployed(0), headers=api.auth())
        r = api.client.post(BATCH, json=[deployed(1), deployed(0, env="dev")], headers=api.auth())
        assert r.status_code == 409
        assert problem(r)["original_index"] == 0
        assert _count(api) == 1

    def test_structured_batch(self, api: Api) -> None:
        """An array of structured CloudEvents answers 201 and records the CDEvents."""
        envelopes = [structured(deployed(i)) for i in range(2)]
        r = api.client.post(
            BATCH,
            content=json.dumps(envelopes),
            headers={**api.auth(), "content-type": "application/cloudevents-batch+json"},
        )
        assert r.status_code == 201
        assert [x["index"] for x in r.json()["results"]] == [0, 1]
        assert api.flightlog.show(1).event == deployed(1)

    def test_structured_batch_mismatch_names_position(self, api: Api) -> None:
        """A disagreeing envelope at [1] answers 422 with position [1]."""
        envelopes = [structured(deployed(0)), structured(deployed(1), type=DEPLOYED + "x")]
        r = api.client.post(
            BATCH,
            content=json.dumps(envelopes),
            headers={**api.auth(), "content-type": "application/cloudevents-batch+json"},
        )
        assert r.status_code == 422
        body = problem(r)
        assert body["position"] == "[1]"
        assert body["path"] == "$.context.type"
        assert _count(api) == 0

    def test_empty_batch_is_a_422(self, api: Api) -> None:
        """An empty array answers 422."""
        r = api.client.post(BATCH, json=[], headers=api.auth())
        assert r.status_code == 422
        assert "no events" in problem(r)["detail"]

    def test_object_is_not_a_batch(self, api: Api) -> None:
        """A single object sent as a batch answers 422."""
        r = api.client.post(BATCH, json=deployed(0), headers=api.auth())
        assert r.status_code == 422
        assert "JSON array" in problem(r)["detail"]

    def test_too_many_events_is_a_413(self, api: Api) -> None:
        """10,001 events answer 413 naming the 10,000 limit."""
        body = b"[" + b",".join([b"{}"] * 10_001) + b"]"
        r = api.client.post(
            BATCH, content=body, headers={**api.auth(), "content-type": "application/json"}
        )
        assert r.status_code == 413
        assert "10000" in problem(r)["detail"]
        assert _count(api) == 0


class TestPureValidation:
    """Parsing and validating a request body needs no ledger, store or key."""

    def test_prepare_single_and_batch_take_only_the_body(self) -> None:
        """Each mode yields the events' ids and canonical bytes, with no service at hand."""
        from flightlog.errors import EventInvalid
        from flightlog.server.ingest import JSON, STRUCTURED, prepare_batch, prepare_single

        plain = prepare_single(JSON, json.dumps(deployed(1)).encode(), None)
        wrapped = prepare_single(STRUCTURED, json.dumps(structured(deployed(1))).encode(), None)
        assert plain.id == wrapped.id == deployed(1)["context"]["id"]
        assert plain.canonical == wrapped.canonical
        batch = prepare_batch(JSON, json.dumps([deployed(2), deployed(3)]).encode())
        assert [p.id for p in batch] == [deployed(2)["context"]["id"], deployed(3)["context"]["id"]]
        bad = json.dumps([deployed(4), {"context": {}}]).encode()
        with pytest.raises(EventInvalid) as caught:
            prepare_batch(JSON, bad)
        assert caught.value.item == 1
