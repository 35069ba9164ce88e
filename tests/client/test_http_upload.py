"""The HTTP client on first use: server URLs as people paste them, token advice, uploads."""

from __future__ import annotations

import json

import httpx
import pytest

from flightlog.client.http import MAX_BATCH_EVENTS
from flightlog.errors import AuthError, EventInvalid, PartiallyRecorded
from tests.client.test_http import Recorder, client_for, event, problem


class TestServerUrl:
    """The server URL a user gives, with or without the API prefix."""

    @pytest.mark.parametrize(
        ("base", "path"),
        [
            ("http://flightlog.test/api/v1", "/api/v1/checkpoint"),
            ("http://flightlog.test/api/v1/", "/api/v1/checkpoint"),
            ("http://flightlog.test/audit/api/v1", "/audit/api/v1/checkpoint"),
        ],
    )
    def test_api_prefix_is_not_doubled(self, base: str, path: str) -> None:
        """A URL ending in /api/v1 reaches /api/v1/…, not /api/v1/api/v1/…."""
        seen: list[str] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request.url.path)
            return httpx.Response(200, json={"note": "n", "tree_size": 1, "root": "cm9vdA=="})

        with client_for(handler, base=base) as client:
            client.latest_checkpoint()
        assert seen == [path]


class TestMissingToken:
    """A 401 without a token says what to set and where the admin token is."""

    def test_advice_names_the_variable_the_flag_and_the_file(self) -> None:
        """The message names FLIGHTLOG_TOKEN, --token and admin.token."""

        def handler(request: httpx.Request) -> httpx.Response:
            return problem(401, "missing bearer token")

        with client_for(handler, token=None) as client, pytest.raises(AuthError) as info:
            client.show(0)
        message = str(info.value)
        assert message.startswith("missing bearer token: set FLIGHTLOG_TOKEN or pass --token")
        assert ".flightlog/admin.token" in message

    def test_a_refused_token_gets_no_advice(self) -> None:
        """With a token given, a 401 keeps the server's detail only."""

        def handler(request: httpx.Request) -> httpx.Response:
            return problem(401, "invalid or revoked token")

        with client_for(handler) as client, pytest.raises(AuthError) as info:
            client.show(0)
        assert str(info.value) == "invalid or revoked token"


class TestAllOrNothing:
    """Uploads validate everything before sending, and report partial progress."""

    def test_a_late_invalid_event_sends_nothing(self) -> None:
        """An invalid event after 10,000 valid ones fails locally naming its line; no request."""
        server = Recorder()
        events = [event(i) for i in range(MAX_BATCH_EVENTS + 5)]
        del events[MAX_BATCH_EVENTS + 2]["context"]["timestamp"]
        data = "\n".join(json.dumps(e) for e in events).encode()
        with (
            client_for(server) as client,
            pytest.raises(EventInvalid, match=r"big\.jsonl:10003: \$\.context\.timestamp"),
        ):
            client.record_bytes(data, name="big.jsonl")
        assert server.requests == []

    def test_a_later_refused_batch_reports_what_was_recorded(self) -> None:
        """The second batch refused: PartiallyRecorded carries the first batch's 10,000 results."""
        recorder = Recorder()

        def handler(request: httpx.Request) -> httpx.Response:
            if recorder.requests:
                return problem(503, "the store is unavailable")
            return recorder(request)

        data = "\n".join(json.dumps(event(i)) for i in range(MAX_BATCH_EVENTS + 1)).encode()
        with client_for(handler) as client, pytest.raises(PartiallyRecorded) as info:
            client.record_bytes(data, name="big.jsonl")
        assert [r.index for r in info.value.results] == list(range(MAX_BATCH_EVENTS))
        assert "503" in str(info.value.cause)

    def test_progress_is_reported_per_batch(self) -> None:
        """record() reports (0, n) first, then the count after each batch."""
        seen: list[tuple[int, int]] = []
        data = "\n".join(json.dumps(event(i)) for i in range(MAX_BATCH_EVENTS + 1)).encode()
        with client_for(Recorder()) as client:
            client.record_bytes(data, name="big.jsonl", progress=lambda d, t: seen.append((d, t)))
        assert seen == [(0, 10_001), (10_000, 10_001), (10_001, 10_001)]
