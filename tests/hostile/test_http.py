"""Hostile requests to the HTTP API, on SQLite and PostgreSQL: always a 4xx problem, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from flightlog.config import Settings
from flightlog.events.canonical import MAX_DEPTH
from flightlog.events.envelope import ERASURE_TYPE
from flightlog.server.app import create_app
from tests.hostile.conftest import BODY_MARKER, marked
from tests.server.events import DEPLOYED, deployed
from tests.server.harness import Api, admin_token, problem, serving

JSON = {"Content-Type": "application/json"}


def _nested(depth: int) -> dict[str, Any]:
    """An event whose whole document nests ``depth`` levels deep."""
    event = marked(deployed(0))
    inner: dict[str, Any] = {"leaf": BODY_MARKER}
    # context/customData already count one level, customData itself a second.
    for _ in range(depth - 2):
        inner = {"d": inner}
    event["customData"] = inner
    return event


def _post(api: Api, body: bytes, path: str = "/api/v1/events", **headers: str) -> Any:
    return api.client.post(path, content=body, headers={**api.auth(), **JSON, **headers})


class TestMalformedJson:
    """Bodies that are not JSON, or not I-JSON, are refused with 400 and a reason."""

    @pytest.mark.parametrize(
        ("body", "detail"),
        [
            (b'{"a": "\xff' + BODY_MARKER.encode() + b'"}', "invalid UTF-8"),
            (b'{"a": ' + BODY_MARKER.encode(), "line 1"),
            (b'{"a": 1, "a": 2, "m": "' + BODY_MARKER.encode() + b'"}', "duplicate object key"),
            (b'{"a": NaN, "m": "' + BODY_MARKER.encode() + b'"}', "NaN is not a JSON value"),
            (b"   ", "empty input"),
        ],
    )
    def test_malformed_body_is_a_400(self, api: Api, body: bytes, detail: str) -> None:
        """Each malformed body answers 400 naming what is wrong, on both stores."""
        r = _post(api, body)
        assert r.status_code == 400
        assert detail in problem(r)["detail"]
        assert api.flightlog.tree_size() == 0

    def test_lone_surrogate_key_is_a_422(self, api: Api) -> None:
        """A key holding a lone surrogate cannot be canonicalised: 422, nothing stored."""
        body = json.dumps(marked(deployed(0)))[:-1] + ', "\\udc00": 1}'
        r = _post(api, body.encode())
        assert r.status_code == 422
        assert "lone surrogate" in problem(r)["detail"]


class TestDeepJson:
    """One nesting limit, whatever the body size or path."""

    @pytest.mark.parametrize("padding", [0, 20_000])
    def test_too_deep_is_refused_small_or_large(self, api: Api, padding: int) -> None:
        """MAX_DEPTH + 1 levels answer 422 with the same detail for a 1 KiB and a 20 KiB body."""
        event = _nested(MAX_DEPTH + 1)
        event["subject"]["content"]["pad"] = "x" * padding
        r = _post(api, json.dumps(event).encode())
        assert r.status_code == 422
        assert problem(r)["detail"] == (
            f"body: $: arrays and objects are nested more than {MAX_DEPTH} levels deep"
        )

    def test_too_deep_in_a_batch_names_its_position(self, api: Api) -> None:
        """In a batch the deep event is named by its position and nothing is stored."""
        body = json.dumps([marked(deployed(1)), _nested(MAX_DEPTH + 1)]).encode()
        r = _post(api, body, "/api/v1/events/batch")
        assert r.status_code == 422
        assert problem(r)["detail"].startswith("[1]: $: arrays and objects are nested")
        assert api.flightlog.tree_size() == 0

    def test_far_too_deep_is_the_same_answer(self, api: Api) -> None:
        """Nesting deep enough to exhaust the parser's recursion gives the same 422."""
        body = b'{"customData": ' + b"[" * 5000 + b"]" * 5000 + b"}"
        r = _post(api, body)
        assert r.status_code == 422
        assert "nested more than" in problem(r)["detail"]

    def test_the_deepest_accepted_event_reads_back(self, api: Api) -> None:
        """An event exactly MAX_DEPTH deep is stored and every read path returns it."""
        r = _post(api, json.dumps(_nested(MAX_DEPTH)).encode())
        assert r.status_code == 201
        page = api.client.get("/api/v1/events", headers=api.auth())
        assert page.status_code == 200
        assert page.json()["events"][0]["event"]["customData"]["d"]["d"] is not None
        assert api.client.get("/api/v1/events/0", headers=api.auth()).status_code == 200

    def test_an_event_stored_deeper_than_the_limit_still_reads(self, api: Api) -> None:
        """A 300-level event stored before the limit reads back (as a problem), never a 500."""
        assert _post(api, json.dumps(marked(deployed(0))).encode()).status_code == 201
        deep = _nested(300)
        with api.flightlog.store.engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE entries SET payload = :p WHERE idx = 0"),
                {"p": json.dumps(deep).encode()},
            )
        for path in ("/api/v1/events", "/api/v1/events/0"):
            r = api.client.get(path, headers=api.auth())
            assert r.status_code == 200, path
        doc = api.client.get("/api/v1/events/0", headers=api.auth()).json()
        assert doc["event"] is None
        assert doc["problems"] == [
            "payload_altered: the stored payload does not match its digest",
            f"payload_too_deep: the stored event nests more than {MAX_DEPTH} levels",
        ]


class TestNul:
    """NUL in any text field is a 422 on both stores (PostgreSQL text cannot hold it)."""

    @pytest.mark.parametrize(
        ("where", "path"),
        [
            (("context", "id"), "$.context.id"),
            (("context", "source"), "$.context.source"),
            (("subject", "id"), "$.subject.id"),
            (("customData", "note"), "$.customData.note"),
        ],
    )
    def test_nul_in_a_field_is_a_422(self, api: Api, where: tuple[str, str], path: str) -> None:
        """The problem names the JSON path of the NUL, and nothing is stored."""
        event = marked(deployed(0))
        event[where[0]][where[1]] = "a\x00b"
        r = _post(api, json.dumps(event).encode())
        assert r.status_code == 422
        body = problem(r)
        assert body["path"] == path
        assert "NUL" in body["detail"]
        assert api.flightlog.tree_size() == 0

    def test_nul_in_a_key_is_a_422(self, api: Api) -> None:
        """A NUL in an object key is refused like one in a value, naming the object."""
        event = marked(deployed(0))
        event["customData"]["note\x00"] = "x"
        r = _post(api, json.dumps(event).encode())
        assert r.status_code == 422
        assert problem(r)["path"] == "$.customData"
        assert api.flightlog.tree_size() == 0

    def test_one_nul_event_fails_its_batch_with_422(self, api: Api) -> None:
        """A batch holding one NUL event answers 422 naming it; the others are not stored."""
        bad = marked(deployed(2))
        bad["subject"]["content"]["environment"]["id"] = "prod\x00"
        body = json.dumps([marked(deployed(1)), bad]).encode()
        r = _post(api, body, "/api/v1/events/batch")
        assert r.status_code == 422
        assert problem(r)["detail"].startswith("[1]: $.subject.content.environment.id")
        assert api.flightlog.tree_size() == 0

    @pytest.mark.parametrize("name", ["service", "type", "ticket", "actor", "commit"])
    def test_nul_in_a_filter_is_a_400(self, api: Api, name: str) -> None:
        """A query filter holding NUL answers 400 on both stores."""
        r = api.client.get("/api/v1/events", params={name: "x\x00"}, headers=api.auth())
        assert r.status_code == 400
        assert "NUL" in problem(r)["detail"]


class TestForgedErasure:
    """Erasure records never come in through ingest."""

    def _erasure(self) -> dict[str, Any]:
        event = marked(deployed(9))
        event["context"]["type"] = ERASURE_TYPE
        event["subject"]["content"] = {
            "index": 0,
            "payloadSha256": "0" * 64,
            "reason": "forged",
            "erasedBy": "mallory",
        }
        return event

    def test_single_and_batch_refuse_erasures(self, api: Api) -> None:
        """POST /events and /events/batch both answer 422 at $.context.type; nothing stored."""
        ingest = api.token("ingest")
        headers = {**api.auth(ingest), **JSON}
        r = api.client.post("/api/v1/events", json=self._erasure(), headers=headers)
        assert r.status_code == 422
        assert problem(r)["path"] == "$.context.type"
        assert "erasure records are written only by flightlog erase" in problem(r)["detail"]
        r = api.client.post("/api/v1/events/batch", json=[self._erasure()], headers=headers)
        assert r.status_code == 422
        assert api.flightlog.tree_size() == 0


class TestHeaders:
    """Repeated or oversized headers."""

    def test_repeated_ce_header_is_a_400(self, api: Api) -> None:
        """ce-id sent twice (bogus, then real) is refused, not last-wins."""
        event = marked(deployed(0))
        headers = [
            *api.auth().items(),
            *JSON.items(),
            ("ce-specversion", "1.0"),
            ("ce-id", "bogus"),
            ("ce-id", event["context"]["id"]),
            ("ce-source", event["context"]["source"]),
            ("ce-type", DEPLOYED),
        ]
        r = api.client.post("/api/v1/events", content=json.dumps(event), headers=headers)
        assert r.status_code == 400
        assert problem(r)["detail"] == (
            "header ce-id is repeated; send each CloudEvents attribute once"
        )
        assert api.flightlog.tree_size() == 0


class TestFilters:
    """Filter values are literal text: no wildcards, no overflow."""

    def test_like_metacharacters_are_literal(self, api: Api) -> None:
        """type=% and service_deployed match nothing; service.deployed matches the event."""
        assert _post(api, json.dumps(marked(deployed(0))).encode()).status_code == 201

        def count(type_: str) -> int:
            r = api.client.get("/api/v1/events", params={"type": type_}, headers=api.auth())
            assert r.status_code == 200
            return len(r.json()["events"])

        assert count("%") == 0
        assert count("_") == 0
        assert count("service_deployed") == 0
        assert count("dev.cdevents.service_deployed") == 0
        assert count("service.deployed") == 1

    @pytest.mark.parametrize(
        ("name", "value", "expected"),
        [
            ("since", "9999-12-31T23:59:59-23:59", 0),
            ("until", "0001-01-01T00:00:00+14:00", 0),
            ("since", "0001-01-01T00:00:00+14:00", 1),
            ("until", "9999-12-31T23:59:59-23:59", 1),
        ],
    )
    def test_times_at_the_edges(self, api: Api, name: str, value: str, expected: int) -> None:
        """Times whose UTC form is outside years 1-9999 filter correctly instead of a 500."""
        assert _post(api, json.dumps(marked(deployed(0))).encode()).status_code == 201
        r = api.client.get("/api/v1/events", params={name: value}, headers=api.auth())
        assert r.status_code == 200
        assert len(r.json()["events"]) == expected


class TestConflicts:
    """A 409 names something that exists."""

    def test_clash_inside_a_batch_names_the_batch_position(self, api: Api) -> None:
        """[a, x, a2] (a2: same id as a, other content) answers 409 naming [0], no ledger index, and records nothing."""
        a = marked(deployed(0))
        a_prime = marked(deployed(0, env="staging"))
        body = json.dumps([a, marked(deployed(1)), a_prime]).encode()
        r = _post(api, body, "/api/v1/events/batch")
        assert r.status_code == 409
        doc = problem(r)
        assert doc["original_position"] == "body[0]"
        assert "original_index" not in doc
        assert doc["detail"].startswith("body[2]: ")
        assert api.flightlog.tree_size() == 0


class TestAuth:
    """Tokens and scopes; nothing a client sends reaches the log."""

    @pytest.mark.parametrize(
        "header",
        [
            "Bearer " + BODY_MARKER,
            "Basic " + BODY_MARKER,
            "Bearer",
            "Bearer  " + "x" * 5000,
        ],
    )
    def test_bad_authorization_is_a_401(self, api: Api, header: str) -> None:
        """Any malformed or unknown credential answers 401 problem+json."""
        r = api.client.get("/api/v1/events", headers={"Authorization": header})
        assert r.status_code == 401
        assert problem(r)["type"] == "urn:flightlog:problem:unauthorized"

    def test_metrics_need_read_scope(self, api: Api, secrets: list[str]) -> None:
        """/metrics answers 401 without a token, 403 with ingest only, 200 with read."""
        assert api.client.get("/metrics").status_code == 401
        ingest = api.token("ingest")
        secrets.append(ingest)
        assert api.client.get("/metrics", headers=api.auth(ingest)).status_code == 403
        reader = api.token("read")
        secrets.append(reader)
        r = api.client.get("/metrics", headers=api.auth(reader))
        assert r.status_code == 200
        assert "flightlog_tree_size" in r.text

    def test_metrics_carry_no_event_supplied_labels(self, api: Api) -> None:
        """Sources and custom types never become label values."""
        events = [
            marked(deployed(i, source=f"https://src-{i}.example/{BODY_MARKER}")) for i in range(5)
        ]
        custom = marked(deployed(99))
        custom["context"]["type"] = "dev.cdeventsx.invented-thing.happened.0.1.0"
        custom["customData"] = {"note": BODY_MARKER}
        r = _post(api, json.dumps([*events, custom]).encode(), "/api/v1/events/batch")
        assert r.status_code == 201, r.text
        text = api.client.get("/metrics", headers=api.auth()).text
        assert "src-" not in text
        assert "invented" not in text
        assert 'flightlog_events_ingested_total{type="custom"} 1.0' in text
        assert f'flightlog_events_ingested_total{{type="{DEPLOYED}"}} 5.0' in text


def test_public_metrics_need_no_token(sqlite_settings: Settings) -> None:
    """With public_metrics (serve --public-metrics) /metrics answers without a token."""
    settings = Settings(
        database_url=sqlite_settings.database_url,
        home=sqlite_settings.home,
        origin=sqlite_settings.origin,
        public_metrics=True,
    )
    with serving(create_app(settings, checkpoint_interval=3600)) as client:
        assert admin_token(settings)
        assert client.get("/metrics").status_code == 200
