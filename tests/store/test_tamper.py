"""Tampering with the database by raw SQL is caught by `verify`, which names what and where."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from flightlog.config import Settings
from flightlog.ledger.checkpoint import Checkpoint, sign_checkpoint
from flightlog.ledger.keys import generate_signer
from flightlog.service import Flightlog
from tests.factories import jsonl, service_deployed

SIZE = 12


@pytest.fixture
def fl(settings: Settings) -> Iterator[Flightlog]:
    """A verified 12-entry log with a checkpoint at 8 and at 12."""
    ledger = Flightlog.open(settings)
    ledger.record(
        ledger.parse_and_validate(jsonl([service_deployed(i) for i in range(8)]), name="a")
    )
    ledger.checkpoint()
    ledger.record(
        ledger.parse_and_validate(jsonl([service_deployed(i) for i in range(8, SIZE)]), name="b")
    )
    ledger.checkpoint()
    assert ledger.verify().ok
    yield ledger
    ledger.close()


def sql(fl: Flightlog, statement: str, **params: object) -> None:
    """Run raw SQL against the store, as an attacker with database access would."""
    with fl.store.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def problem(fl: Flightlog) -> tuple[int | None, str, str]:
    """Verify and return the first problem's index, kind and detail."""
    report = fl.verify()
    assert report.problem is not None, "tampering went unnoticed"
    return report.problem.index, report.problem.kind, report.problem.detail


class TestTamper:
    def test_changed_payload_byte(self, fl: Flightlog) -> None:
        """One changed payload byte is reported as an altered payload at its index."""
        with fl.store.engine.connect() as conn:
            payload = bytes(
                conn.execute(sa.text("SELECT payload FROM entries WHERE idx = 5")).scalar_one()
            )
        sql(
            fl,
            "UPDATE entries SET payload = :p WHERE idx = 5",
            p=payload.replace(b"prod", b"prud", 1),
        )
        assert problem(fl)[:2] == (5, "payload_altered")

    def test_deleted_row(self, fl: Flightlog) -> None:
        """A deleted entry is reported as missing at its index."""
        sql(fl, "DELETE FROM entries WHERE idx = 3")
        assert problem(fl)[:2] == (3, "entry_missing")

    def test_deleted_last_row(self, fl: Flightlog) -> None:
        """Deleting the newest entry is caught too."""
        sql(fl, "DELETE FROM entries WHERE idx = :i", i=SIZE - 1)
        assert problem(fl)[:2] == (SIZE - 1, "entry_missing")

    def test_swapped_rows(self, fl: Flightlog) -> None:
        """Two entries swapped in place are reported as reordered."""
        sql(fl, "UPDATE entries SET idx = -1 WHERE idx = 2")
        sql(fl, "UPDATE entries SET idx = 2 WHERE idx = 6")
        sql(fl, "UPDATE entries SET idx = 6 WHERE idx = -1")
        index, kind, detail = problem(fl)
        assert (index, kind) == (2, "entries_reordered")
        assert "recorded at index 6" in detail

    def test_inserted_row(self, fl: Flightlog) -> None:
        """A row inserted after the last entry is not in the tree and is named."""
        sql(
            fl,
            "INSERT INTO entries (idx, event_id, source, type, time, time_utc, received_at, payload_sha256, payload)"
            " SELECT :n, 'forged', source, type, time, time_utc, received_at, payload_sha256, payload"
            " FROM entries WHERE idx = 0",
            n=SIZE,
        )
        assert problem(fl)[:2] == (SIZE, "entry_inserted")

    def test_altered_leaf_field(self, fl: Flightlog) -> None:
        """Changing a committed field (received_at) is reported as an altered leaf."""
        sql(fl, "UPDATE entries SET received_at = '2020-01-01T00:00:00.000000Z' WHERE idx = 4")
        assert problem(fl)[:2] == (4, "leaf_altered")

    def test_changed_inner_node(self, fl: Flightlog) -> None:
        """A changed stored inner node is reported with its level and index."""
        sql(fl, "UPDATE merkle_nodes SET hash = :h WHERE level = 2 AND idx = 1", h=b"\x00" * 32)
        index, kind, detail = problem(fl)
        assert (index, kind) == (4, "node_altered")
        assert "level 2, index 1" in detail

    def test_changed_leaf_node(self, fl: Flightlog) -> None:
        """A changed stored leaf hash (entry intact) is reported as an altered node."""
        sql(fl, "UPDATE merkle_nodes SET hash = :h WHERE level = 0 AND idx = 6", h=b"\x11" * 32)
        assert problem(fl)[:2] == (6, "node_altered")

    def test_forged_checkpoint(self, fl: Flightlog) -> None:
        """A checkpoint signed by another key is reported as forged."""
        other = generate_signer(fl.settings.origin)
        note = sign_checkpoint(Checkpoint(fl.settings.origin, SIZE, fl.root(SIZE)), other)
        sql(fl, "UPDATE checkpoints SET note = :n WHERE tree_size = :s", n=note, s=SIZE)
        assert problem(fl)[1] == "checkpoint_forged"

    def test_inconsistent_checkpoint(self, fl: Flightlog) -> None:
        """A correctly signed checkpoint whose root is not the log's is reported as inconsistent."""
        bogus = b"\x42" * 32
        note = sign_checkpoint(Checkpoint(fl.settings.origin, 8, bogus), fl.signer)
        sql(
            fl,
            "UPDATE checkpoints SET note = :n, root_hash = :r WHERE tree_size = 8",
            n=note,
            r=bogus,
        )
        _, kind, detail = problem(fl)
        assert kind == "checkpoint_inconsistent"
        assert "size 8" in detail

    def test_erased_without_record(self, fl: Flightlog) -> None:
        """A payload removed without an erasure event is tampering, not an erasure."""
        sql(fl, "UPDATE entries SET payload = NULL WHERE idx = 7")
        index, kind, detail = problem(fl)
        assert (index, kind) == (7, "payload_altered")
        assert "without an erasure record" in detail


class TestParallelVerify:
    def test_worker_processes_verify_and_name_tampering(self, settings: Settings) -> None:
        """Verification in worker processes agrees with the sequential one, clean and tampered."""
        from flightlog.ledger.audit import CHUNK

        total = 2 * CHUNK + 100
        with Flightlog.open(settings) as ledger:
            for start in range(0, total, 2000):
                batch = [service_deployed(i) for i in range(start, min(start + 2000, total))]
                ledger.record(ledger.parse_and_validate(jsonl(batch), name="bulk"))
            ledger.checkpoint()
            parallel, sequential = ledger.verify(workers=2), ledger.verify(workers=1)
            assert parallel.ok, parallel.problem
            assert (parallel.entries_checked, parallel.root) == (total, sequential.root)
            assert parallel.nodes_checked == sequential.nodes_checked
            bad = CHUNK + 17
            sql(ledger, "UPDATE entries SET time = '1999-01-01T00:00:00Z' WHERE idx = :i", i=bad)
            report = ledger.verify(workers=2)
            assert report.problem is not None
            assert (report.problem.index, report.problem.kind) == (bad, "leaf_altered")
