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


def tile(fl: Flightlog, level: int, index: int) -> bytes:
    """The stored bytes of one tile."""
    with fl.store.engine.connect() as conn:
        return bytes(
            conn.execute(
                sa.text("SELECT hashes FROM tiles WHERE level = :l AND idx = :i"),
                {"l": level, "i": index},
            ).scalar_one()
        )


def replace_hash(fl: Flightlog, level: int, index: int, position: int, value: bytes) -> None:
    """Overwrite hash ``position`` of tile ``(level, index)`` in place."""
    data = bytearray(tile(fl, level, index))
    data[32 * position : 32 * (position + 1)] = value
    sql(
        fl,
        "UPDATE tiles SET hashes = :h WHERE level = :l AND idx = :i",
        h=bytes(data),
        l=level,
        i=index,
    )


def record_bulk(fl: Flightlog, total: int) -> None:
    """Record ``total`` service.deployed events in batches of 2,000."""
    for start in range(0, total, 2000):
        batch = [service_deployed(i) for i in range(start, min(start + 2000, total))]
        fl.record(fl.parse_and_validate(jsonl(batch), name="bulk"))


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

    def test_changed_leaf_hash_in_tile(self, fl: Flightlog) -> None:
        """A changed leaf hash in a stored tile names the entry and the tile."""
        replace_hash(fl, 0, 0, 6, b"\x11" * 32)
        index, kind, detail = problem(fl)
        assert (index, kind) == (6, "leaf_altered")
        assert "tile 0/0" in detail

    def test_truncated_tile(self, fl: Flightlog) -> None:
        """A partial tile cut short is reported as a missing leaf hash."""
        data = tile(fl, 0, 0)
        sql(fl, "UPDATE tiles SET hashes = :h WHERE level = 0 AND idx = 0", h=data[: 32 * 10])
        assert problem(fl)[:2] == (10, "node_missing")

    def test_extra_tile(self, fl: Flightlog) -> None:
        """A tile for entries that are not in the log is reported as an altered node."""
        sql(fl, "INSERT INTO tiles (level, idx, hashes) VALUES (0, 1, :h)", h=b"\x00" * 32)
        index, kind, detail = problem(fl)
        assert (index, kind) == (SIZE, "node_altered")
        assert "not in the log" in detail

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


class TestTamperTiles:
    @pytest.fixture
    def big(self, settings: Settings) -> Iterator[Flightlog]:
        """A verified log of 600 entries: two full leaf tiles and a level-1 tile above them."""
        ledger = Flightlog.open(settings)
        ledger.record(
            ledger.parse_and_validate(jsonl([service_deployed(i) for i in range(600)]), name="a")
        )
        ledger.checkpoint()
        assert ledger.verify().ok
        yield ledger
        ledger.close()

    def test_changed_leaf_hash_under_a_full_tile(self, big: Flightlog) -> None:
        """With a tile above to compare, an altered leaf tile is told apart from an altered entry."""
        replace_hash(big, 0, 1, 6, b"\x11" * 32)
        index, kind, detail = problem(big)
        assert (index, kind) == (256 + 6, "node_altered")
        assert "tile 0/1" in detail

    def test_altered_entry_under_a_full_tile(self, big: Flightlog) -> None:
        """An entry changed under a full tile is reported as an altered leaf."""
        sql(big, "UPDATE entries SET time = '1999-01-01T00:00:00Z' WHERE idx = 300")
        assert problem(big)[:2] == (300, "leaf_altered")

    def test_changed_level_one_tile(self, big: Flightlog) -> None:
        """A changed hash in the level-1 tile names tree level 8 and its index."""
        replace_hash(big, 1, 0, 1, b"\x22" * 32)
        index, kind, detail = problem(big)
        assert (index, kind) == (256, "node_altered")
        assert "level 8, index 1" in detail


class TestParallelVerify:
    def test_worker_processes_verify_and_name_tampering(self, settings: Settings) -> None:
        """Verification in worker processes agrees with the sequential one, clean and tampered."""
        from flightlog.ledger.audit import CHUNK

        total = 2 * CHUNK + 100
        with Flightlog.open(settings) as ledger:
            record_bulk(ledger, total)
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

    def test_worker_processes_find_index_drift_first_first(self, settings: Settings) -> None:
        """Drift in the workers' whole chunks and in the tail is named in ledger order, after
        any Merkle problem."""
        from flightlog.ledger.audit import CHUNK

        total = 2 * CHUNK + 100
        with Flightlog.open(settings) as ledger:
            record_bulk(ledger, total)
            ledger.checkpoint()
            shifted = "UPDATE entries SET time_utc = '1999-01-01T00:00:00.000000Z' WHERE idx = :i"
            tail, early = 2 * CHUNK + 50, CHUNK + 5
            sql(ledger, shifted, i=tail)
            report = ledger.verify(workers=2)
            assert report.problem is not None
            assert (report.problem.index, report.problem.kind) == (tail, "index_drift")
            sql(ledger, "DELETE FROM refs WHERE idx = :i", i=early)
            report = ledger.verify(workers=2)
            assert report.problem is not None
            assert (report.problem.index, report.problem.kind) == (early, "index_drift")
            assert "refs index of entry" in report.problem.detail
            sql(ledger, "UPDATE entries SET time = '1999-01-01T00:00:00Z' WHERE idx = :i", i=tail)
            report = ledger.verify(workers=2)
            assert report.problem is not None
            assert (report.problem.index, report.problem.kind) == (tail, "leaf_altered")


class TestCellsBesideTheTree:
    """Entry and ref cells are checked while the tree is, and what they find comes first."""

    @pytest.mark.parametrize("workers", [1, 2])
    @pytest.mark.parametrize(
        ("table", "change"),
        [
            ("entries", "UPDATE entries SET payload = CAST(payload AS TEXT) WHERE idx = :i"),
            ("refs", "UPDATE refs SET value = CAST(value AS BLOB) WHERE idx = :i"),
        ],
    )
    def test_cell_of_the_wrong_type_is_named(
        self, sqlite_settings: Settings, workers: int, table: str, change: str
    ) -> None:
        """A text payload (which breaks the digest arithmetic) or a ref value stored as bytes deep in
        a log checked by several processes is cell_malformed at its index, not a traceback.

        SQLite only: PostgreSQL's column types refuse a cell of another type."""
        from flightlog.ledger.audit import CHUNK

        with Flightlog.open(sqlite_settings) as ledger:
            record_bulk(ledger, 2 * CHUNK + 100)
            bad = CHUNK + 5
            sql(ledger, change, i=bad)
            report = ledger.verify(workers=workers)
            assert report.problem is not None
            assert (report.problem.index, report.problem.kind) == (bad, "cell_malformed")
            assert f"table {table} at index {bad}" in report.problem.detail

    def test_an_error_with_sound_cells_is_raised(
        self, fl: Flightlog, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """When the cells are sound, an error the rest of verification raises is not hidden."""

        def broken(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("the tree check failed")

        monkeypatch.setattr(Flightlog, "_verify_rows", broken)
        with pytest.raises(RuntimeError, match="the tree check failed"):
            fl.verify()


def artifact_of(fl: Flightlog, index: int) -> str:
    """The artifact ref stored for entry ``index``."""
    with fl.store.engine.connect() as conn:
        return str(
            conn.execute(
                sa.text("SELECT value FROM refs WHERE idx = :i AND kind = 'artifact'"), {"i": index}
            ).scalar_one()
        )


class TestDerivedIndexes:
    """The refs of a whole page are compared at once, yet drift is named entry by entry."""

    def test_refs_written_in_another_order_still_verify(self, fl: Flightlog) -> None:
        """Refs rows re-inserted in reverse order are the same index: verification holds."""
        with fl.store.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT kind, value, idx FROM refs")).all()
        sql(fl, "DELETE FROM refs")
        for kind, value, idx in sorted(rows, reverse=True):
            sql(
                fl,
                "INSERT INTO refs (kind, value, idx) VALUES (:k, :v, :i)",
                k=kind,
                v=value,
                i=idx,
            )
        assert fl.verify().ok

    def test_ref_moved_to_the_next_entry_is_drift(self, fl: Flightlog) -> None:
        """A ref moved to its neighbour keeps the page's refs but is drift at the first entry."""
        moved = artifact_of(fl, 6)
        sql(fl, "UPDATE refs SET idx = 7 WHERE idx = 6 AND kind = 'artifact'")
        index, kind, detail = problem(fl)
        assert (index, kind) == (6, "index_drift")
        assert f"lacks artifact={moved}" in detail

    def test_refs_swapped_between_entries_are_drift(self, fl: Flightlog) -> None:
        """Two entries' artifacts swapped (the same rows overall) are drift at the earlier one."""
        first, second = artifact_of(fl, 3), artifact_of(fl, 9)
        sql(fl, "UPDATE refs SET value = :v WHERE idx = 3 AND kind = 'artifact'", v=second)
        sql(fl, "UPDATE refs SET value = :v WHERE idx = 9 AND kind = 'artifact'", v=first)
        index, kind, detail = problem(fl)
        assert (index, kind) == (3, "index_drift")
        assert f"lacks artifact={first}" in detail

    def test_drift_and_worker_processes_agree_on_the_first_entry(self, settings: Settings) -> None:
        """Across many shares of work, two processes name the same first drift as one."""
        from flightlog.ledger.audit import CHUNK

        total = 5 * CHUNK + 10
        with Flightlog.open(settings) as ledger:
            record_bulk(ledger, total)
            late, early = 4 * CHUNK + 3, 2 * CHUNK - 1
            sql(ledger, "DELETE FROM refs WHERE idx = :i AND kind = 'service'", i=late)
            for workers in (1, 2):
                report = ledger.verify(workers=workers)
                assert report.problem is not None
                assert (report.problem.index, report.problem.kind) == (late, "index_drift")
            sql(ledger, "DELETE FROM refs WHERE idx = :i AND kind = 'environment'", i=early)
            for workers in (1, 2):
                report = ledger.verify(workers=workers)
                assert report.problem is not None
                assert (report.problem.index, report.problem.detail) == (
                    early,
                    f"the refs index of entry {early} lacks environment=prod: queries would differ",
                )
