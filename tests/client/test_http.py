"""Tests of the HTTP client of the Flightlog API, against fake servers built on MockTransport."""

from __future__ import annotations

import hashlib
import json
import re
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import rfc8785

from flightlog.api import EventFilter
from flightlog.client.http import MAX_BATCH_EVENTS, RemoteFlightlog
from flightlog.errors import (
    AuthError,
    ConflictError,
    EventInvalid,
    FlightlogError,
    ForbiddenError,
    InputError,
    InputTooLarge,
    MalformedInput,
    NotFound,
    RemoteError,
    ServerUnavailable,
    UnknownEventType,
)

BASE = "http://flightlog.test"
TOKEN = "fl_s3cr3t-t0ken-value"

Handler = Callable[[httpx.Request], httpx.Response]


def client_for(handler: Handler, token: str | None = TOKEN, base: str = BASE) -> RemoteFlightlog:
    """A RemoteFlightlog whose every request goes to ``handler``."""
    return RemoteFlightlog(base, token, transport=httpx.MockTransport(handler))


def problem(status: int, detail: str, **extra: Any) -> httpx.Response:
    """An RFC 9457 problem answer."""
    body = {"type": "about:blank", "title": "Problem", "status": status, "detail": detail, **extra}
    return httpx.Response(
        status, content=json.dumps(body), headers={"Content-Type": "application/problem+json"}
    )


def error_of(handler: Handler) -> FlightlogError:
    """The error that ``show(1)`` raises against ``handler``."""
    with client_for(handler) as client, pytest.raises(FlightlogError) as info:
        client.show(1)
    return info.value


def entry_doc(index: int) -> dict[str, Any]:
    """A well-formed show-document of entry ``index``."""
    return {
        "index": index,
        "event": {"context": {"id": str(index)}},
        "erased": False,
        "refs": [["service", "api"]],
        "leaf": {
            "id": str(index),
            "source": "/ci",
            "type": "dev.cdevents.service.deployed.0.3.0",
            "time": "2026-11-26T23:30:00Z",
            "received_at": "2026-11-26T23:30:01.000000Z",
            "payload_sha256": "00" * 32,
        },
        "leaf_hash": "AA==",
        "problems": [],
    }


def event(n: int, **content: Any) -> dict[str, Any]:
    """A small CDEvent numbered ``n``."""
    return {
        "context": {
            "specversion": "0.5.1",
            "id": f"evt-{n}",
            "source": "/ci/test",
            "type": "dev.cdevents.build.finished.0.3.0",
            "timestamp": "2026-01-01T00:00:00Z",
        },
        "subject": {"id": f"build-{n}", "source": "/ci/test", "content": content},
    }


class Recorder:
    """A fake ingest endpoint that acknowledges every event and keeps the requests."""

    def __init__(self) -> None:
        """Start with no requests and no entries."""
        self.requests: list[httpx.Request] = []
        self.next_index = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Acknowledge a batch with consecutive indices."""
        self.requests.append(request)
        events = json.loads(request.content)
        results = []
        for _ in events:
            results.append({"index": self.next_index, "leaf_hash": "AA==", "duplicate": False})
            self.next_index += 1
        return httpx.Response(201, json={"results": results})


class TestConstruction:
    """RemoteFlightlog.__init__ and __repr__."""

    def test_rejects_a_url_without_http_scheme(self) -> None:
        """A server URL that is not http(s) is refused before any request."""
        with pytest.raises(InputError, match="must be an absolute http:// or https:// URL"):
            RemoteFlightlog("ftp://flightlog.test", TOKEN)

    def test_repr_shows_the_url_but_never_the_token(self) -> None:
        """The repr names the server and hides the token and URL credentials."""
        client = RemoteFlightlog("https://user:hunter2@flightlog.test/", TOKEN)
        assert repr(client) == "RemoteFlightlog('https://flightlog.test')"
        assert TOKEN not in repr(client)
        assert "hunter2" not in repr(client)
        client.close()

    def test_rejects_a_token_that_cannot_be_sent_without_echoing_it(self) -> None:
        """A token with a line break is refused, and the message does not contain it."""
        bad = "fl_abc\nInjected: header"
        with pytest.raises(AuthError, match="cannot be sent in a header") as info:
            RemoteFlightlog(BASE, bad)
        assert "fl_abc" not in str(info.value)

    def test_context_manager_closes_the_client(self) -> None:
        """Leaving the with block closes the connection pool."""
        with client_for(Recorder()) as client:
            pass
        assert client._client.is_closed


class TestRequests:
    """What each method sends and how it reads the answer."""

    def test_sends_the_bearer_token(self) -> None:
        """Every request carries ``Authorization: Bearer <token>``."""
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json={"index": 3})

        with client_for(handler) as client:
            assert client.show_document(3) == {"index": 3}
        assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
        assert seen[0].url.path == "/api/v1/events/3"

    def test_sends_no_authorization_without_a_token(self) -> None:
        """Without a token no Authorization header is sent."""
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, text="log+01234567+AQ==\n")

        with client_for(handler, token=None) as client:
            assert client.verifier_key() == "log+01234567+AQ=="
        assert "Authorization" not in seen[0].headers
        assert seen[0].url.path == "/api/v1/key"

    def test_keeps_the_path_prefix_of_the_base_url(self) -> None:
        """A server mounted under a path prefix is reached under that prefix."""
        seen: list[str] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request.url.path)
            return httpx.Response(200, json={"note": "n", "tree_size": 1, "root": "cm9vdA=="})

        with client_for(handler, base="http://flightlog.test/audit/") as client:
            client.latest_checkpoint()
        assert seen == ["/audit/api/v1/checkpoint"]

    def test_checkpoint_posts_and_latest_gets_json(self) -> None:
        """checkpoint() POSTs; latest_checkpoint() GETs with Accept: application/json."""
        seen: list[tuple[str, str]] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append((request.method, request.headers["Accept"]))
            return httpx.Response(200, json={"note": "n\n", "tree_size": 2, "root": "cm9vdA=="})

        with client_for(handler) as client:
            assert client.checkpoint().tree_size == 2
            assert client.latest_checkpoint().root == b"root"
        assert seen == [("POST", "application/json"), ("GET", "application/json")]

    def test_checkpoint_note_asks_for_text(self) -> None:
        """checkpoint_note() asks for text/plain and returns the note unchanged."""
        note = "flightlog.test/log\n3\nAAAA\n\n\u2014 flightlog.test/log sig\n"

        def handler(request: httpx.Request) -> httpx.Response:
            assert request.headers["Accept"] == "text/plain"
            return httpx.Response(200, text=note)

        with client_for(handler) as client:
            assert client.checkpoint_note() == note

    def test_inclusion_proof_leaves_out_an_unset_size(self) -> None:
        """The size parameter is sent only when given."""
        seen: list[dict[str, str]] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(dict(request.url.params))
            return httpx.Response(200, json={"index": 1, "proof": []})

        with client_for(handler) as client:
            client.inclusion_proof_document(1)
            client.inclusion_proof_document(1, 7)
            client.consistency_proof_document(2, 9)
        assert seen == [{"index": "1"}, {"index": "1", "size": "7"}, {"first": "2", "second": "9"}]

    def test_a_success_that_is_not_json_is_a_remote_error(self) -> None:
        """A 200 answer whose body is not JSON fails with RemoteError naming the path."""
        with (
            client_for(lambda r: httpx.Response(200, text="<html>proxy</html>")) as client,
            pytest.raises(RemoteError, match="answered GET /api/v1/events/4 with a body that is"),
        ):
            client.show(4)


class TestLog:
    """RemoteFlightlog.log: filters, cursor and pages."""

    def test_maps_the_filter_to_query_parameters(self) -> None:
        """Each filter becomes its query parameter; environment is sent as env."""
        seen: list[dict[str, str]] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(dict(request.url.params))
            return httpx.Response(200, json={"events": [], "next_cursor": None})

        flt = EventFilter(
            type="service.deployed",
            environment="prod",
            ticket="PAY-1",
            since=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        )
        with client_for(handler) as client:
            assert client.log(flt, after=41, limit=5) == []
        assert seen == [
            {
                "type": "service.deployed",
                "env": "prod",
                "ticket": "PAY-1",
                "since": "2026-01-02T03:04:05.000000Z",
                "limit": "5",
                "cursor": "41",
            }
        ]

    def test_follows_next_cursor_until_the_limit(self) -> None:
        """Pages are followed until ``limit`` documents are collected."""
        asked: list[dict[str, str]] = []

        def handler(request: httpx.Request) -> httpx.Response:
            params = dict(request.url.params)
            asked.append(params)
            start = int(params.get("cursor", "-1")) + 1
            page = [entry_doc(i) for i in range(start, start + min(2, int(params["limit"])))]
            return httpx.Response(200, json={"events": page, "next_cursor": str(page[-1]["index"])})

        with client_for(handler) as client:
            docs = client.log(EventFilter(), limit=5)
        assert [d.index for d in docs] == [0, 1, 2, 3, 4]
        assert [a.get("cursor") for a in asked] == [None, "1", "3"]
        assert [a["limit"] for a in asked] == ["5", "3", "1"]

    def test_asks_for_pages_the_server_serves(self) -> None:
        """A limit over the server's page size is fetched in pages of at most 1,000."""
        asked: list[str] = []

        def handler(request: httpx.Request) -> httpx.Response:
            params = dict(request.url.params)
            asked.append(params["limit"])
            start = int(params.get("cursor", "-1")) + 1
            page = [entry_doc(i) for i in range(start, start + int(params["limit"]))]
            return httpx.Response(200, json={"events": page, "next_cursor": str(page[-1]["index"])})

        with client_for(handler) as client:
            docs = client.log(EventFilter(), limit=2500)
        assert asked == ["1000", "1000", "500"]
        assert [d.index for d in docs] == list(range(2500))

    def test_stops_at_the_last_page(self) -> None:
        """A null next_cursor ends the listing even below the limit."""

        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json={"events": [entry_doc(0)], "next_cursor": None})

        with client_for(handler) as client:
            assert [e.to_wire() for e in client.log(EventFilter(), limit=100)] == [entry_doc(0)]

    def test_a_page_without_events_is_a_remote_error(self) -> None:
        """An answer lacking the events list fails with RemoteError."""
        with (
            client_for(lambda r: httpx.Response(200, json={"items": []})) as client,
            pytest.raises(RemoteError, match="without an events list"),
        ):
            client.log(EventFilter())


class TestRecord:
    """RemoteFlightlog.record: local parsing, batching and positions."""

    def test_sends_canonical_events_and_returns_the_results(self) -> None:
        """Events go as one JSON array of their canonical bytes; the acks come back in order."""
        server = Recorder()
        data = json.dumps(event(1), indent=1).replace("\n", "") + "\n"
        data += json.dumps(event(2)) + "\n"
        with client_for(server) as client:
            results = client.record_bytes(data.encode(), name="events.jsonl")
        assert [r.index for r in results] == [0, 1]
        assert server.requests[0].url.path == "/api/v1/events/batch"
        assert server.requests[0].headers["Content-Type"] == "application/json"
        assert server.requests[0].content == (
            b"[" + rfc8785.dumps(event(1)) + b"," + rfc8785.dumps(event(2)) + b"]"
        )

    def test_splits_into_batches_of_at_most_ten_thousand(self) -> None:
        """10,001 events are sent as one request of 10,000 and one of 1."""
        server = Recorder()
        data = "\n".join(json.dumps(event(i)) for i in range(MAX_BATCH_EVENTS + 1)).encode()
        with client_for(server) as client:
            results = client.record_bytes(data, name="many.jsonl")
        sizes = [len(json.loads(r.content)) for r in server.requests]
        assert sizes == [10_000, 1]
        assert [r.index for r in results] == list(range(10_001))

    def test_malformed_input_fails_locally_with_the_file_name(self) -> None:
        """Unparseable input names the user's file and line, and nothing is sent."""
        server = Recorder()
        with (
            client_for(server) as client,
            pytest.raises(MalformedInput, match=r"events\.jsonl: line 2"),
        ):
            client.record_bytes(b'{"a": 1}\n{"a": \n', name="events.jsonl")
        assert server.requests == []

    def test_server_positions_become_the_users_positions(self) -> None:
        """A 422 about batch event [1] names the user's line of that event."""

        def handler(request: httpx.Request) -> httpx.Response:
            return problem(
                422,
                "[1]: $.context.id: must not be empty",
                type="urn:flightlog:problem:event-invalid",
                reason="must not be empty",
                path="$.context.id",
                position="[1]",
                item=1,
            )

        data = (json.dumps(event(1)) + "\n\n" + json.dumps(event(2)) + "\n").encode()
        with client_for(handler) as client, pytest.raises(EventInvalid) as info:
            client.record_bytes(data, name="events.jsonl")
        assert type(info.value) is EventInvalid
        assert info.value.position == "events.jsonl:3"
        assert info.value.path == "$.context.id"
        assert str(info.value) == "events.jsonl:3: $.context.id: must not be empty"

    def test_unknown_event_type_keeps_its_class(self) -> None:
        """The unknown-event-type problem becomes UnknownEventType at the user's position."""

        def handler(request: httpx.Request) -> httpx.Response:
            return problem(
                422,
                "[0]: $.context.type: unknown type 'dev.nope'",
                type="urn:flightlog:problem:unknown-event-type",
                reason="unknown type 'dev.nope'",
                path="$.context.type",
                position="[0]",
                item=0,
            )

        with client_for(handler) as client, pytest.raises(UnknownEventType) as info:
            client.record_bytes(json.dumps([event(1)]).encode(), name="in.json")
        assert str(info.value) == "in.json[0]: $.context.type: unknown type 'dev.nope'"

    def test_an_acknowledgement_of_the_wrong_length_is_a_remote_error(self) -> None:
        """Fewer results than events sent fails closed."""

        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(201, json={"results": []})

        with (
            client_for(handler) as client,
            pytest.raises(RemoteError, match="acknowledged 0 results for 1 events"),
        ):
            client.record_bytes(json.dumps(event(1)).encode(), name="one.json")


class TestErrorMapping:
    """Problem answers become the classes of flightlog.errors."""

    @pytest.mark.parametrize(
        ("status", "kind"),
        [
            (400, MalformedInput),
            (401, AuthError),
            (403, ForbiddenError),
            (404, NotFound),
            (413, InputTooLarge),
        ],
    )
    def test_status_maps_to_its_class_with_the_detail(
        self, status: int, kind: type[FlightlogError]
    ) -> None:
        """Each status gives its class, with the server's detail as the message."""
        error = error_of(lambda r: problem(status, f"detail of {status}"))
        assert type(error) is kind
        assert str(error) == f"detail of {status}"

    def test_conflict_carries_the_original_index(self) -> None:
        """409 becomes ConflictError with the original_index extension member."""
        with (
            client_for(lambda r: problem(409, "evt-1 differs from entry 7", original_index=7)) as c,
            pytest.raises(ConflictError, match="evt-1 differs from entry 7") as info,
        ):
            c.record_bytes(json.dumps(event(1)).encode(), name="e.json")
        assert info.value.original_index == 7

    def test_422_without_a_path_keeps_the_detail(self) -> None:
        """A 422 request-validation problem without position is an EventInvalid at $."""
        error = error_of(lambda r: problem(422, "query.index: not an integer"))
        assert type(error) is EventInvalid
        assert str(error) == "$: query.index: not an integer"

    def test_other_statuses_are_remote_errors(self) -> None:
        """503 becomes ServerUnavailable (a RemoteError) saying what the server answered."""
        error = error_of(lambda r: problem(503, "database is locked"))
        assert type(error) is ServerUnavailable
        assert str(error) == "the Flightlog server answered 503: database is locked"

    def test_a_plain_error_body_is_quoted(self) -> None:
        """A non-problem error (a proxy's 502 page) is quoted in the RemoteError."""
        error = error_of(lambda r: httpx.Response(502, text="upstream gone"))
        assert type(error) is ServerUnavailable
        assert str(error) == "the Flightlog server answered 502: upstream gone"

    def test_connection_failure_names_the_url(self) -> None:
        """A refused connection becomes RemoteError naming the server URL."""

        def handler(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        with client_for(handler) as client, pytest.raises(RemoteError) as info:
            client.verifier_key()
        assert str(info.value) == (
            "cannot reach the Flightlog server at http://flightlog.test: connection refused"
        )

    def test_timeout_is_a_remote_error(self) -> None:
        """A timeout becomes RemoteError naming the server URL."""

        def handler(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("timed out", request=request)

        with (
            client_for(handler) as client,
            pytest.raises(RemoteError, match=r"cannot reach .* timed out"),
        ):
            client.show(0)

    def test_a_real_closed_port_is_a_remote_error(self) -> None:
        """Without a fake transport, a closed local port gives the same RemoteError."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        expected = re.escape(f"cannot reach the Flightlog server at http://127.0.0.1:{port}: ")
        with (
            RemoteFlightlog(f"http://127.0.0.1:{port}", TOKEN, timeout=2) as client,
            pytest.raises(RemoteError, match=expected),
        ):
            client.verifier_key()


class TestTokenSecrecy:
    """The token never appears in an error message."""

    def test_a_server_echoing_the_token_is_redacted(self) -> None:
        """A detail that quotes the token shows [token] instead."""
        error = error_of(lambda r: problem(401, f"token {TOKEN} is revoked"))
        assert type(error) is AuthError
        assert str(error) == "token [token] is revoked"

    def test_a_transport_error_quoting_the_token_is_redacted(self) -> None:
        """A connection error whose text holds the token does not leak it."""

        def handler(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError(f"proxy refused Bearer {TOKEN}", request=request)

        with client_for(handler) as client, pytest.raises(RemoteError) as info:
            client.show(1)
        assert TOKEN not in str(info.value)
        assert str(info.value).endswith("proxy refused Bearer [token]")

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422, 500, 503])
    def test_no_error_message_contains_the_token(self, status: int) -> None:
        """Whatever the status, the raised message is free of the token."""

        def handler(request: httpx.Request) -> httpx.Response:
            echo = f"echo {request.headers['Authorization']}"
            return problem(status, echo, path=TOKEN, position=TOKEN)

        with client_for(handler) as client, pytest.raises(FlightlogError) as info:
            client.record_bytes(json.dumps(event(1)).encode(), name="e.json")
        assert TOKEN not in str(info.value)
        assert "[token]" in str(info.value)


class TestPutBlob:
    """put_blob uploads the bytes with their media type and checks the digest answered."""

    def test_sends_bytes_and_media_type(self) -> None:
        """The body is the exact bytes; Content-Type is the media type; the digest comes back."""
        seen: list[httpx.Request] = []
        data = b"<testsuite/>\x00"
        digest = hashlib.sha256(data).hexdigest()

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(201, json={"sha256": digest, "size": len(data)})

        with client_for(handler) as client:
            assert client.put_blob(data, media_type="application/xml") == digest
        assert (seen[0].method, seen[0].url.path) == ("POST", "/api/v1/blobs")
        assert seen[0].headers["content-type"] == "application/xml"
        assert seen[0].content == data

    def test_a_wrong_digest_is_a_remote_error(self) -> None:
        """A server that names another digest is not trusted with the report."""
        with (
            client_for(lambda r: httpx.Response(201, json={"sha256": "0" * 64})) as client,
            pytest.raises(RemoteError, match=r"stored the blob .* under '0000"),
        ):
            client.put_blob(b"x", media_type="text/plain")

    def test_a_5xx_is_server_unavailable(self) -> None:
        """A 500 answer is ServerUnavailable, which the record commands spool."""
        with (
            client_for(lambda r: problem(500, "boom")) as client,
            pytest.raises(ServerUnavailable, match="answered 500: boom"),
        ):
            client.put_blob(b"x", media_type="text/plain")
