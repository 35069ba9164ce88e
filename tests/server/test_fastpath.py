"""The ingest fast path: POSTs to the ingest routes never reach FastAPI's router."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio.from_thread
import httpx
import pytest
from anyio.from_thread import BlockingPortal
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from flightlog.config import Settings
from flightlog.server import webhooks
from flightlog.server.app import create_app
from flightlog.server.fastpath import FAST_ROUTES, FastIngest
from flightlog.server.ingest import event_head, router
from tests.server.events import deployed
from tests.server.harness import BASE_URL, admin_token, problem


class _Unreachable:
    """An ASGI app standing for FastAPI's router; records every request it sees."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 418 so a test can tell the request fell through."""
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@dataclass
class Fast:
    """An app's lifespan running in a portal, and the app's admin token."""

    app: FastAPI
    portal: BlockingPortal
    admin: str

    def call(self, method: str, path: str, **kwargs: Any) -> tuple[httpx.Response, list[str]]:
        """Send one request through FastIngest in front of an app that is not the router."""
        inner = _Unreachable()
        fast = FastIngest(inner)

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            # Starlette puts the application on the scope before its middleware run.
            scope["app"] = self.app
            await fast(scope, receive, send)

        async def send_one() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
                return await client.request(method, path, **kwargs)

        return self.portal.call(send_one), inner.paths

    def auth(self) -> dict[str, str]:
        """The admin token's Authorization header."""
        return {"Authorization": f"Bearer {self.admin}"}

    @property
    def tree_size(self) -> int:
        """The size of the app's ledger."""
        size: int = self.app.state.server.flightlog.tree_size()
        return size


@pytest.fixture
def fast(sqlite_settings: Settings) -> Iterator[Fast]:
    """An app over a fresh SQLite file, started, with its event loop's portal."""
    app = create_app(sqlite_settings, checkpoint_interval=3600)
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
    ):
        yield Fast(app, portal, admin_token(sqlite_settings))


class TestFastIngest:
    """FastIngest answers the two ingest POST routes itself."""

    def test_single_event_is_recorded_without_the_router(self, fast: Fast) -> None:
        """POST /api/v1/events answers 201 with the index; the inner app sees nothing."""
        r, seen = fast.call("POST", "/api/v1/events", json=deployed(1), headers=fast.auth())
        assert (r.status_code, r.json()["index"], seen) == (201, 0, [])
        assert fast.tree_size == 1

    def test_batch_is_recorded_without_the_router(self, fast: Fast) -> None:
        """POST /api/v1/events/batch answers 201 with one result per event."""
        batch = [deployed(n) for n in range(3)]
        r, seen = fast.call("POST", "/api/v1/events/batch", json=batch, headers=fast.auth())
        assert r.status_code == 201
        assert [x["index"] for x in r.json()["results"]] == [0, 1, 2]
        assert seen == []

    def test_errors_are_the_apps_problem_documents(self, fast: Fast) -> None:
        """A missing token answers the app's 401 problem with its Bearer challenge."""
        r, seen = fast.call("POST", "/api/v1/events", json=deployed(1))
        assert r.status_code == 401
        assert problem(r)["type"].endswith(":unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
        assert seen == []

    def test_other_requests_pass_through(self, fast: Fast) -> None:
        """A GET on an ingest path and any other path go on to the inner app."""
        _, seen_get = fast.call("GET", "/api/v1/events")
        _, seen_other = fast.call("POST", "/api/v1/erase")
        assert (seen_get, seen_other) == (["/api/v1/events"], ["/api/v1/erase"])

    def test_fast_routes_are_the_documented_ingest_routes(self) -> None:
        """Every fast path is a POST route the ingest or webhook router declares (in OpenAPI)."""
        declared = {
            route.path: route.endpoint  # type: ignore[attr-defined]
            for route in [*router.routes, *webhooks.router.routes]
            if "POST" in getattr(route, "methods", ())
        }
        assert {path: declared.get(path) for path in FAST_ROUTES} == FAST_ROUTES


def _post_through_app(fast: Fast, n: int) -> httpx.Response:
    """POST event ``n`` through the whole app, with the request id ``ingest-<n>``."""

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=fast.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            return await client.post(
                "/api/v1/events",
                json=deployed(n),
                headers={**fast.auth(), "X-Request-ID": f"ingest-{n}"},
            )

    return fast.portal.call(post)


class TestFastIngestAPI:
    """The app hands ingest POSTs to the fast path before FastAPI's middleware stack."""

    def test_ingest_skips_fastapis_stack_and_keeps_the_apps_middleware(self, fast: Fast) -> None:
        """With FastAPI's stack replaced, ingest still answers, with the app's request id."""
        inner = _Unreachable()
        fast.app.middleware_stack = inner
        r = _post_through_app(fast, 7)
        assert (r.status_code, r.json()["index"]) == (201, 0)
        assert r.headers["x-request-id"] == "ingest-7"
        assert inner.paths == []


class TestLeanEventRoute:
    """``POST /api/v1/events`` is answered from the raw ASGI scope, without Request/Response."""

    def test_answer_carries_the_headers_a_response_would(self, fast: Fast) -> None:
        """201 with JSON content type and length, Location, and the app's request id."""
        r = _post_through_app(fast, 3)
        assert (r.status_code, r.json()["index"]) == (201, 0)
        assert r.headers["content-type"] == "application/json"
        assert int(r.headers["content-length"]) == len(r.content)
        assert (r.headers["location"], r.headers["x-request-id"]) == (
            "/api/v1/events/0",
            "ingest-3",
        )

    def test_head_takes_first_occurrences_and_notes_binary_mode(self) -> None:
        """Repeated headers keep their first value; a ce- header exposes the header map."""
        scope = {
            "headers": [
                (b"authorization", b"Bearer first"),
                (b"authorization", b"Bearer second"),
                (b"content-type", b"application/json"),
                (b"ce-type", b"dev.cdevents.service.deployed.0.2.0"),
            ]
        }
        head = event_head(scope)
        assert (head.authorization, head.content_type, head.content_length) == (
            "Bearer first",
            "application/json",
            None,
        )
        assert head.ce_headers is not None
        assert head.ce_headers["ce-type"] == "dev.cdevents.service.deployed.0.2.0"
        assert event_head({"headers": scope["headers"][:3]}).ce_headers is None
