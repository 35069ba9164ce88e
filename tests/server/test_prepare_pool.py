"""Big batches validated in prepare processes (``serve --prepare-processes``)."""

from __future__ import annotations

import gc
import json
import pickle
from collections.abc import Iterator

import pytest

from flightlog.config import Settings
from flightlog.errors import EventInvalid, UnknownEventType
from flightlog.server.app import create_app
from flightlog.server.ingest import COLLECTOR_THRESHOLD, JSON, POOL_PREPARE_BYTES, prepare_batch
from tests.server.events import deployed
from tests.server.harness import Api, admin_token, problem, serving

BATCH = "/api/v1/events/batch"
EVENTS = 200  # a body of this many events is over POOL_PREPARE_BYTES


@pytest.fixture
def pooled(sqlite_settings: Settings) -> Iterator[Api]:
    """The app over a fresh SQLite file with one prepare process."""
    app = create_app(sqlite_settings, checkpoint_interval=3600, prepare_processes=1)
    with serving(app) as client:
        yield Api(app=app, client=client, admin=admin_token(sqlite_settings))


def _body(events: list[dict[str, object]]) -> bytes:
    data = json.dumps(events).encode()
    assert len(data) >= POOL_PREPARE_BYTES
    return data


class TestPreparePool:
    """A batch prepared in another process is recorded exactly as one prepared in process."""

    def test_the_app_runs_its_prepare_process(self, pooled: Api) -> None:
        """The started app holds a live pool that answers calls."""
        pool = pooled.state.prepare_pool
        assert pool is not None
        assert pool.submit(sum, [1, 2]).result(timeout=30) == 3

    def test_the_prepare_process_collects_like_the_server(self, pooled: Api) -> None:
        """The prepare process has the server's collector threshold and frozen startup objects."""
        pool = pooled.state.prepare_pool
        assert pool is not None
        assert pool.submit(gc.get_threshold).result(timeout=30)[0] == COLLECTOR_THRESHOLD
        assert pool.submit(gc.get_freeze_count).result(timeout=30) > 0

    def test_big_batch_is_recorded_in_order(self, pooled: Api) -> None:
        """Every event of a batch over the threshold gets the next index, in order."""
        body = _body([deployed(n) for n in range(EVENTS)])
        r = pooled.client.post(BATCH, content=body, headers={**pooled.auth(), "Content-Type": JSON})
        assert r.status_code == 201
        assert [x["index"] for x in r.json()["results"]] == list(range(EVENTS))
        assert pooled.flightlog.show(EVENTS - 1).to_wire()["leaf"]["id"] == f"deploy-{EVENTS - 1}"

    def test_bad_event_fails_the_whole_batch_with_its_place(self, pooled: Api) -> None:
        """One invalid event answers 422 naming it (reason, path, item); nothing is written."""
        events = [deployed(n) for n in range(EVENTS)]
        del events[150]["context"]["id"]
        r = pooled.client.post(
            BATCH, content=_body(events), headers={**pooled.auth(), "Content-Type": JSON}
        )
        assert r.status_code == 422
        doc = problem(r)
        with pytest.raises(EventInvalid) as caught:
            prepare_batch(JSON, _body(events))
        local = caught.value
        assert (doc["item"], doc["position"]) == (150, "[150]")
        assert (doc["reason"], doc["path"], doc["detail"]) == (local.reason, local.path, str(local))
        assert pooled.flightlog.tree_size() == 0


class TestInvalidEventsCrossProcesses:
    """An EventInvalid pickled by a prepare process comes back as it was raised."""

    @pytest.mark.parametrize("cls", [EventInvalid, UnknownEventType])
    def test_round_trip_keeps_message_and_place(self, cls: type[EventInvalid]) -> None:
        """Class, message, reason, path, position and item survive pickling."""
        exc = cls("is required", path="$.context.id", position="[3]", item=3)
        back = pickle.loads(pickle.dumps(exc))
        assert type(back) is cls
        assert (str(back), back.reason, back.path, back.position, back.item) == (
            str(exc),
            "is required",
            "$.context.id",
            "[3]",
            3,
        )
