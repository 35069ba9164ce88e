"""The ledger on a real store: appends, idempotence, conflicts, atomicity, proofs, erasure."""

from __future__ import annotations

import base64
import json
import multiprocessing
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from flightlog.config import Settings
from flightlog.errors import (
    ConflictError,
    EventInvalid,
    InputError,
    InputTooLarge,
    NotFound,
    StoreError,
    UnknownEventType,
)
from flightlog.ledger import merkle
from flightlog.ledger.checkpoint import open_checkpoint
from flightlog.ledger.entry import leaf_hash_of
from flightlog.ledger.note import Verifier
from flightlog.service import EventFilter, Flightlog
from tests.factories import jsonl, service_deployed


@pytest.fixture
def fl(settings: Settings) -> Iterator[Flightlog]:
    """An opened ledger on each backend."""
    ledger = Flightlog.open(settings)
    yield ledger
    ledger.close()


def record(fl: Flightlog, events: list[dict[str, object]]) -> list[int]:
    """Record events and return their indices."""
    prepared = fl.parse_and_validate(jsonl(events), name="events.jsonl")
    return [r.index for r in fl.record(prepared)]


class TestAppend:
    def test_indices_are_consecutive_from_zero(self, fl: Flightlog) -> None:
        """A batch gets consecutive indices starting at the current tree size."""
        assert record(fl, [service_deployed(i) for i in range(5)]) == [0, 1, 2, 3, 4]
        assert record(fl, [service_deployed(i) for i in range(5, 8)]) == [5, 6, 7]
        assert fl.tree_size() == 8

    def test_reappend_is_idempotent(self, fl: Flightlog) -> None:
        """The same source, id and content returns the original index and writes nothing."""
        record(fl, [service_deployed(i) for i in range(3)])
        prepared = fl.parse_and_validate(jsonl([service_deployed(1)]), name="again")
        (result,) = fl.record(prepared)
        assert (result.index, result.duplicate) == (1, True)
        assert fl.tree_size() == 3

    def test_duplicate_inside_one_batch_is_recorded_once(self, fl: Flightlog) -> None:
        """An event repeated within a batch gets one index."""
        prepared = fl.parse_and_validate(
            jsonl([service_deployed(0), service_deployed(0)]), name="b"
        )
        results = fl.record(prepared)
        assert [(r.index, r.duplicate) for r in results] == [(0, False), (0, True)]
        assert fl.tree_size() == 1

    def test_same_id_other_content_is_a_conflict_naming_the_original(self, fl: Flightlog) -> None:
        """Same source + id with different content is refused, and nothing of the batch is written."""
        record(fl, [service_deployed(i) for i in range(3)])
        clash = service_deployed(2, env="staging")
        prepared = fl.parse_and_validate(jsonl([service_deployed(10), clash]), name="b")
        with pytest.raises(ConflictError, match="already recorded at index 2") as info:
            fl.record(prepared)
        assert info.value.original_index == 2
        assert fl.tree_size() == 3

    def test_invalid_event_rejects_the_whole_batch(self, fl: Flightlog) -> None:
        """One invalid event names its position and nothing is written."""
        bad = service_deployed(1)
        del bad["context"]["id"]  # type: ignore[attr-defined]
        with pytest.raises(EventInvalid, match=r"events.jsonl:2") as info:
            record(fl, [service_deployed(0), bad])
        assert "context" in info.value.path
        assert fl.tree_size() == 0

    def test_unknown_type_is_rejected(self, fl: Flightlog) -> None:
        """An event type outside CDEvents and Flightlog's own is refused by name."""
        ev = service_deployed(0)
        ev["context"]["type"] = "dev.cdevents.spaceship.launched.0.1.0"  # type: ignore[index]
        with pytest.raises(UnknownEventType, match="spaceship"):
            record(fl, [ev])
        assert fl.tree_size() == 0

    def test_oversized_event_is_refused(self, fl: Flightlog) -> None:
        """An event over 1 MiB is refused naming its position and size; nothing is written."""
        big = service_deployed(1)
        big["customData"] = {"blob": "x" * (1024 * 1024)}
        with pytest.raises(InputTooLarge, match=r"b.jsonl:2: the event is 1,048,[0-9]{3} bytes"):
            fl.record(fl.parse_and_validate(jsonl([service_deployed(0), big]), name="b.jsonl"))
        assert fl.tree_size() == 0

    def test_group_commit_isolates_a_conflicting_group(self, fl: Flightlog) -> None:
        """In one transaction a conflicting group is left out; the others commit in order."""
        record(fl, [service_deployed(0)])
        g1 = fl.parse_and_validate(jsonl([service_deployed(1)]), name="g1")
        g2 = fl.parse_and_validate(jsonl([service_deployed(0, env="dev")]), name="g2")
        g3 = fl.parse_and_validate(jsonl([service_deployed(2), service_deployed(3)]), name="g3")
        out = fl.record_groups([g1, g2, g3])
        assert [r.index for r in out[0]] == [1]  # type: ignore[union-attr]
        assert isinstance(out[1], ConflictError)
        assert [r.index for r in out[2]] == [2, 3]  # type: ignore[union-attr]
        assert fl.tree_size() == 4


class TestReads:
    def test_show_returns_the_event_as_received_and_its_leaf(self, fl: Flightlog) -> None:
        """`show` gives the event, refs, the leaf object and its base64 leaf hash."""
        ev = service_deployed(7, service="checkout", env="prod")
        record(fl, [ev])
        doc = fl.show(0).to_wire()
        assert doc["event"] == ev
        assert doc["leaf"]["id"] == "evt-7"
        assert doc["leaf"]["time"] == ev["context"]["timestamp"]  # type: ignore[index]
        assert base64.b64decode(doc["leaf_hash"]) == leaf_hash_of(doc["leaf"])
        assert ["service", "checkout"] in doc["refs"]
        assert ["environment", "prod"] in doc["refs"]

    def test_show_missing_index(self, fl: Flightlog) -> None:
        """An index beyond the log is NotFound."""
        with pytest.raises(NotFound, match="no entry at index 3"):
            fl.show(3)

    def test_entries_at_reads_several_entries_as_get_does(self, fl: Flightlog) -> None:
        """entries_at gives, for each index that exists, the row get gives; others are absent."""
        record(fl, [service_deployed(i) for i in range(6)])
        found = fl.store.entries_at([4, 1, 9, 1])
        assert sorted(found) == [1, 4]
        for index in (1, 4):
            assert found[index] == fl.store.get(index)[0]
        assert fl.store.entries_at([]) == {}

    def test_log_filters_by_refs_type_and_time(self, fl: Flightlog) -> None:
        """`log` filters by service, environment, type and event time, in index order."""
        record(
            fl,
            [
                service_deployed(1, service="a", env="prod"),
                service_deployed(2, service="b", env="prod"),
                service_deployed(3, service="a", env="staging"),
            ],
        )
        assert [d.index for d in fl.log(EventFilter(service="a"))] == [0, 2]
        assert [d.index for d in fl.log(EventFilter(service="a", environment="prod"))] == [0]
        assert [d.index for d in fl.log(EventFilter(type="service.deployed"))] == [0, 1, 2]
        assert fl.log(EventFilter(type="dev.cdevents.build.finished")) == []
        assert [d.index for d in fl.log(EventFilter(), after=0, limit=1)] == [1]
        from datetime import UTC, datetime

        since = datetime(2026, 11, 3, tzinfo=UTC)
        assert [d.index for d in fl.log(EventFilter(since=since))] == [1, 2]
        assert [d.index for d in fl.log(EventFilter(until=since))] == [0]


class TestProofs:
    def test_inclusion_proofs_verify_against_the_signed_checkpoint(self, fl: Flightlog) -> None:
        """Every entry's inclusion proof verifies against the root of the signed checkpoint."""
        record(fl, [service_deployed(i) for i in range(13)])
        cp_doc = fl.checkpoint().to_wire()
        cp = open_checkpoint(cp_doc["note"], Verifier.from_verifier_key(fl.verifier_key()))
        assert cp.tree_size == 13
        for i in range(13):
            doc = fl.inclusion_proof(i).to_wire()
            assert doc["tree_size"] == 13
            assert doc["checkpoint"] == cp_doc["note"]
            merkle.verify_inclusion(
                i,
                13,
                base64.b64decode(doc["leaf_hash"]),
                [base64.b64decode(p) for p in doc["proof"]],
                cp.root_hash,
            )

    def test_consistency_proofs_verify(self, fl: Flightlog) -> None:
        """Consistency proofs between any two sizes verify."""
        record(fl, [service_deployed(i) for i in range(9)])
        for first in range(1, 10):
            for second in range(first, 10):
                doc = fl.consistency_proof(first, second).to_wire()
                merkle.verify_consistency(
                    first,
                    second,
                    base64.b64decode(doc["first_root"]),
                    base64.b64decode(doc["second_root"]),
                    [base64.b64decode(p) for p in doc["proof"]],
                )

    def test_bad_proof_arguments(self, fl: Flightlog) -> None:
        """Out-of-range indices and sizes are refused with a precise message."""
        record(fl, [service_deployed(i) for i in range(3)])
        with pytest.raises(NotFound, match="no entry at index 3"):
            fl.inclusion_proof(3)
        with pytest.raises(InputError, match="at most 3"):
            fl.inclusion_proof(0, 4)
        with pytest.raises(InputError, match="0 < first <= second"):
            fl.consistency_proof(2, 1)

    def test_proof_of_a_missing_entry_cuts_no_checkpoint(self, fl: Flightlog) -> None:
        """Asking for a proof of an index beyond the log is NotFound and leaves no checkpoint."""
        with pytest.raises(NotFound, match="the log holds 0 entries"):
            fl.inclusion_proof(0)
        assert fl.latest_checkpoint() is None

    def test_checkpoint_is_reused_while_the_tree_is_unchanged(self, fl: Flightlog) -> None:
        """A second checkpoint without new entries returns the same note."""
        record(fl, [service_deployed(0)])
        assert fl.checkpoint() == fl.checkpoint()
        record(fl, [service_deployed(1)])
        assert fl.checkpoint().tree_size == 2


class TestErasure:
    def test_erase_keeps_proofs_and_verify_green(self, fl: Flightlog) -> None:
        """An erased payload is gone, an erasure event records it, and the log still verifies."""
        record(fl, [service_deployed(i) for i in range(4)])
        fl.checkpoint()
        result = fl.erase(2, reason="secret pasted by mistake", actor="alice")
        assert result.index == 4
        doc = fl.show(2).to_wire()
        assert doc["erased"] is True and doc["event"] is None
        erasure = fl.show(4).event
        assert erasure["subject"]["content"] == {
            "index": 2,
            "payloadSha256": doc["leaf"]["payload_sha256"],
            "reason": "secret pasted by mistake",
            "erasedBy": "alice",
        }
        fl.checkpoint()
        report = fl.verify()
        assert report.ok, report.problem
        assert report.erased == [2]
        assert report.entries_checked == 5

    def test_erase_twice_and_missing(self, fl: Flightlog) -> None:
        """Erasing twice or a missing index is refused and appends nothing."""
        record(fl, [service_deployed(0)])
        fl.erase(0, reason="gdpr", actor="bob")
        with pytest.raises(ConflictError, match="already erased"):
            fl.erase(0, reason="gdpr", actor="bob")
        with pytest.raises(NotFound):
            fl.erase(9, reason="gdpr", actor="bob")
        assert fl.tree_size() == 2


class TestVerify:
    def test_verify_counts_everything(self, fl: Flightlog) -> None:
        """A clean log verifies and the report counts entries, nodes and checkpoints."""
        for start in range(0, 40, 10):
            record(fl, [service_deployed(i) for i in range(start, start + 10)])
            fl.checkpoint()
        report = fl.verify()
        assert report.ok, report.problem
        assert (report.entries_checked, report.checkpoints_checked) == (40, 4)
        assert report.root == fl.root(40)


def _append_worker(
    url: str, home: str, start: int, count: int, out: multiprocessing.Queue[list[int]]
) -> None:
    settings = Settings(
        database_url=url, home=__import__("pathlib").Path(home), origin="test.example/log"
    )
    with Flightlog.open(settings) as fl:
        got: list[int] = []
        for i in range(start, start + count, 5):
            prepared = fl.parse_and_validate(
                jsonl([service_deployed(j) for j in range(i, i + 5)]), name="w"
            )
            got.extend(r.index for r in fl.record(prepared))
        out.put(got)


class TestConcurrentProcesses:
    def test_processes_appending_at_once_leave_no_gap_or_duplicate(
        self, settings: Settings
    ) -> None:
        """Four processes appending to one log produce indices 0..n-1 exactly once, and verify passes."""
        Flightlog.open(settings).close()
        ctx = multiprocessing.get_context("spawn")
        queue: multiprocessing.Queue[list[int]] = ctx.Queue()
        procs = [
            ctx.Process(
                target=_append_worker,
                args=(settings.database_url, str(settings.home), k * 1000, 60, queue),
            )
            for k in range(4)
        ]
        for p in procs:
            p.start()
        indices = sorted(i for _ in procs for i in queue.get(timeout=120))
        for p in procs:
            p.join(timeout=60)
        assert indices == list(range(240))
        with Flightlog.open(settings) as fl:
            fl.checkpoint()
            report = fl.verify()
            assert report.ok, report.problem
            with fl.store.engine.connect() as conn:
                assert conn.execute(sa.text("SELECT count(*) FROM entries")).scalar_one() == 240
            assert json.dumps(fl.show(239).to_wire()["leaf"])


class TestSchemaVersions:
    """A store written by a newer Flightlog is refused whole, and left as it is."""

    def _from_the_future(self, fl: Flightlog) -> None:
        with fl.store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))

    def test_newer_schema_is_refused_for_writing(self, fl: Flightlog, settings: Settings) -> None:
        """Opening to write (migrate) names the unknown schema and changes nothing."""
        record(fl, [service_deployed(0)])
        self._from_the_future(fl)
        with pytest.raises(StoreError, match=r"schema 9999, which this Flightlog does not know"):
            Flightlog.open(settings)
        with fl.store.engine.connect() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        assert version == "9999"

    def test_newer_schema_is_refused_for_reading(self, fl: Flightlog, settings: Settings) -> None:
        """Opening to read says the same instead of reporting a schema to migrate."""
        record(fl, [service_deployed(0)])
        self._from_the_future(fl)
        with pytest.raises(StoreError, match=r"written by a newer version; upgrade Flightlog"):
            Flightlog.open_for_reading(settings)
