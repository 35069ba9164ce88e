"""Group commit: concurrent requests share transactions and each gets its own answer."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence

import anyio
import pytest

from flightlog.config import Settings
from flightlog.errors import ConflictError, StoreError
from flightlog.server.app import create_app
from flightlog.server.writer import GroupWriter
from flightlog.service import AppendResult, Flightlog, PreparedEvent
from tests.server.events import deployed
from tests.server.harness import admin_token, problem, running

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """The writer is an asyncio task."""
    return "asyncio"


class TestConcurrentIngest:
    """Many requests at once through the real app."""

    async def test_64_concurrent_requests_get_distinct_consecutive_indices(
        self, settings: Settings
    ) -> None:
        """64 simultaneous POSTs are all acknowledged with indices 0..63, in fewer commits."""
        app = create_app(settings, checkpoint_interval=3600)
        async with running(app) as client:
            headers = {"Authorization": f"Bearer {admin_token(settings)}"}
            responses = await asyncio.gather(
                *(
                    client.post("/api/v1/events", json=deployed(i), headers=headers)
                    for i in range(64)
                )
            )
            assert [r.status_code for r in responses] == [201] * 64
            indices = sorted(r.json()["index"] for r in responses)
            assert indices == list(range(64))
            state = app.state.server
            assert state.flightlog.tree_size() == 64
            assert state.writer.commits < 64
            for r in responses:
                shown = state.flightlog.show(r.json()["index"])
                assert shown.to_wire()["leaf_hash"] == r.json()["leaf_hash"]

    async def test_a_conflict_fails_only_its_own_request(self, settings: Settings) -> None:
        """Among concurrent requests, the conflicting one gets 409 and the rest 201."""
        app = create_app(settings, checkpoint_interval=3600)
        async with running(app) as client:
            headers = {"Authorization": f"Bearer {admin_token(settings)}"}
            first = await client.post("/api/v1/events", json=deployed(0), headers=headers)
            assert first.status_code == 201
            bodies = [deployed(0, env="elsewhere")] + [deployed(i) for i in range(1, 16)]
            responses = await asyncio.gather(
                *(client.post("/api/v1/events", json=b, headers=headers) for b in bodies)
            )
            assert responses[0].status_code == 409
            assert problem(responses[0])["original_index"] == 0
            assert [r.status_code for r in responses[1:]] == [201] * 15
            assert sorted(r.json()["index"] for r in responses[1:]) == list(range(1, 16))


def _prepared(service: Flightlog, n: int, **kw: str) -> PreparedEvent:
    return service.prepare(deployed(n, **kw), position=f"[{n}]")


class TestGroupWriter:
    """The writer task over a real service."""

    async def test_groups_submitted_together_commit_together(
        self, sqlite_settings: Settings
    ) -> None:
        """Ten groups queued at once are committed in one call of record_groups."""
        service = Flightlog.open(sqlite_settings)
        calls: list[int] = []

        def record(
            groups: Sequence[Sequence[PreparedEvent]],
        ) -> list[list[AppendResult] | ConflictError]:
            calls.append(len(groups))
            return service.record_groups(groups)

        writer = GroupWriter(record, max_wait=0.05)
        writer.start()
        try:
            results = await asyncio.gather(
                *(writer.submit([_prepared(service, i)]) for i in range(10))
            )
        finally:
            await writer.stop()
            service.close()
        assert sorted(r[0].index for r in results) == list(range(10))
        assert calls == [10]

    async def test_max_events_bounds_a_transaction(self, sqlite_settings: Settings) -> None:
        """With max_events=4, twelve one-event groups need at least three commits."""
        service = Flightlog.open(sqlite_settings)
        calls: list[int] = []

        def record(
            groups: Sequence[Sequence[PreparedEvent]],
        ) -> list[list[AppendResult] | ConflictError]:
            calls.append(sum(len(g) for g in groups))
            return service.record_groups(groups)

        writer = GroupWriter(record, max_events=4, max_wait=0.05)
        writer.start()
        try:
            await asyncio.gather(*(writer.submit([_prepared(service, i)]) for i in range(12)))
        finally:
            await writer.stop()
            service.close()
        assert max(calls) <= 4
        assert sum(calls) == 12

    async def test_unexpected_failure_is_isolated_to_its_group(
        self, sqlite_settings: Settings
    ) -> None:
        """A group that makes the batch raise fails alone; its neighbours still commit."""
        service = Flightlog.open(sqlite_settings)
        poison = _prepared(service, 99)

        def record(
            groups: Sequence[Sequence[PreparedEvent]],
        ) -> list[list[AppendResult] | ConflictError]:
            if any(poison in g for g in groups):
                raise RuntimeError("cannot store this group")
            return service.record_groups(groups)

        writer = GroupWriter(record, max_wait=0.05)
        writer.start()
        try:
            outcomes = await asyncio.gather(
                writer.submit([_prepared(service, 1)]),
                writer.submit([poison]),
                writer.submit([_prepared(service, 2)]),
                return_exceptions=True,
            )
        finally:
            await writer.stop()
            tree_size = service.tree_size()
            service.close()
        assert isinstance(outcomes[1], RuntimeError)
        assert [o[0].index for o in (outcomes[0], outcomes[2])] == [0, 1]  # type: ignore[index]
        assert tree_size == 2

    async def test_blobs_ride_in_their_groups_transaction(self, sqlite_settings: Settings) -> None:
        """Each request's blobs go into the commit of its group; a failed group's blob does not."""
        service = Flightlog.open(sqlite_settings)
        poison = _prepared(service, 99)
        calls: list[list[tuple[bytes, str]]] = []

        def record(
            groups: Sequence[Sequence[PreparedEvent]], blobs: Sequence[tuple[bytes, str]] = ()
        ) -> list[list[AppendResult] | ConflictError]:
            calls.append(list(blobs))
            if any(poison in g for g in groups):
                raise RuntimeError("cannot store this group")
            return service.record_groups(groups, blobs)

        writer = GroupWriter(record, max_wait=0.05)
        writer.start()
        try:
            outcomes = await asyncio.gather(
                writer.submit([_prepared(service, 1)], blobs=[(b"one", "text/plain")]),
                writer.submit([poison], blobs=[(b"bad", "text/plain")]),
                writer.submit([_prepared(service, 2)]),
                return_exceptions=True,
            )
            kept = {
                b: service.blobs.exists(hashlib.sha256(b).hexdigest()) for b in (b"one", b"bad")
            }
        finally:
            await writer.stop()
            service.close()
        assert isinstance(outcomes[1], RuntimeError)
        assert calls[0] == [(b"one", "text/plain"), (b"bad", "text/plain")]
        assert kept == {b"one": True, b"bad": False}

    async def test_submit_after_stop_is_a_store_error(self, sqlite_settings: Settings) -> None:
        """A stopped writer refuses new groups with StoreError (503)."""
        service = Flightlog.open(sqlite_settings)
        writer = GroupWriter(service.record_groups)
        writer.start()
        await writer.stop()
        try:
            with pytest.raises(StoreError, match="not running"):
                await writer.submit([_prepared(service, 1)])
        finally:
            service.close()

    async def test_stop_commits_what_was_queued(self, sqlite_settings: Settings) -> None:
        """Groups queued before stop are committed and answered."""
        service = Flightlog.open(sqlite_settings)
        writer = GroupWriter(service.record_groups, max_wait=0)
        writer.start()
        try:
            pending = [
                asyncio.ensure_future(writer.submit([_prepared(service, i)])) for i in range(5)
            ]
            await anyio.sleep(0)
            await writer.stop()
            results = [await p for p in pending]
        finally:
            service.close()
        assert sorted(r[0].index for r in results) == list(range(5))
