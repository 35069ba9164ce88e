"""A v1 log (one row per Merkle node) is migrated to tiles and verifies before and after."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from flightlog.config import Settings
from flightlog.errors import StoreError
from flightlog.events.canonical import parse_events
from flightlog.ledger import merkle
from flightlog.ledger.checkpoint import Checkpoint, sign_checkpoint
from flightlog.ledger.entry import leaf_bytes_of
from flightlog.ledger.keys import load_or_create_signer
from flightlog.service import Flightlog, prepare_event
from flightlog.store.engine import create_engine, write_transaction
from flightlog.store.ledger import alembic_config, schema_revisions
from tests.factories import jsonl, service_deployed
from tests.store.migrations import upgrade

SIZE = 600
RECEIVED = "2026-11-28T10:00:00.000000Z"


def build_v1(settings: Settings, size: int) -> bytes:
    """Write a v1 log the way v1 did (entries, one merkle_nodes row per complete subtree).

    Returns the root the v1 nodes commit to, after checking it against a naive root.
    """
    engine = create_engine(settings.database_url)
    upgrade(engine, "0001")
    docs = parse_events(jsonl([service_deployed(i) for i in range(size)]), name="v1")
    prepared = [prepare_event(d) for d in docs]
    frontier = merkle.CompactRange()
    entry_rows: list[dict[str, object]] = []
    node_rows: list[dict[str, object]] = []
    ref_rows: list[dict[str, object]] = []
    leaves: list[bytes] = []
    for index, ev in enumerate(prepared):
        lh = merkle.leaf_hash(
            leaf_bytes_of(ev.id, ev.source, ev.type, ev.time, RECEIVED, ev.payload_sha256)
        )
        leaves.append(lh)
        ref_rows.extend({"k": k, "v": v, "i": index} for k, v in ev.refs)
        node_rows.extend({"l": lv, "i": i, "h": h} for lv, i, h in frontier.append(lh))
        entry_rows.append(
            {
                "i": index,
                "e": ev.id,
                "s": ev.source,
                "t": ev.type,
                "tm": ev.time,
                "tu": ev.time_utc,
                "r": RECEIVED,
                "d": ev.payload_sha256,
                "p": ev.canonical,
            }
        )
    root = frontier.root()
    signer = load_or_create_signer(settings.key_path, settings.origin)
    with write_transaction(engine) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO entries (idx, event_id, source, type, time, time_utc, received_at,"
                " payload_sha256, payload) VALUES (:i, :e, :s, :t, :tm, :tu, :r, :d, :p)"
            ),
            entry_rows,
        )
        conn.execute(
            sa.text("INSERT INTO merkle_nodes (level, idx, hash) VALUES (:l, :i, :h)"), node_rows
        )
        conn.execute(sa.text("INSERT INTO refs (kind, value, idx) VALUES (:k, :v, :i)"), ref_rows)
        conn.execute(sa.text("UPDATE ledger_state SET tree_size = :n WHERE id = 1"), {"n": size})
        for cut in (size // 2, size):
            cut_root = merkle.CompactRange()
            for lh in leaves[:cut]:
                cut_root.append(lh)
            note = sign_checkpoint(Checkpoint(settings.origin, cut, cut_root.root()), signer)
            conn.execute(
                sa.text(
                    "INSERT INTO checkpoints (tree_size, root_hash, note, created_at)"
                    " VALUES (:n, :r, :note, :c)"
                ),
                {"n": cut, "r": cut_root.root(), "note": note, "c": RECEIVED},
            )
    engine.dispose()
    assert root == _naive_root(leaves)
    return root


def _naive_root(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(_naive_root(leaves[:split]), _naive_root(leaves[split:]))


def _v1_root_from_nodes(settings: Settings, size: int) -> bytes:
    """The root as v1 computed it: from its stored frontier nodes."""
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        found = {
            (int(lv), int(i)): bytes(h)
            for lv, i, h in conn.execute(sa.text("SELECT level, idx, hash FROM merkle_nodes"))
        }
    engine.dispose()
    plan = merkle.root_plan(size)
    return plan.assemble(found)[0]


class TestMigrateV1:
    def test_v1_log_migrates_to_tiles_and_verifies(self, settings: Settings) -> None:
        """The v1 nodes commit to the signed root; after migrating, tiles do and verify passes."""
        root = build_v1(settings, SIZE)
        assert _v1_root_from_nodes(settings, SIZE) == root
        with Flightlog.open(settings) as ledger:
            report = ledger.verify()
            assert report.ok, report.problem
            assert (report.entries_checked, report.root, report.checkpoints_checked) == (
                SIZE,
                root,
                2,
            )
            with ledger.store.engine.connect() as conn:
                tables = set(sa.inspect(conn).get_table_names())
                widths = conn.execute(
                    sa.text("SELECT level, idx, length(hashes) FROM tiles ORDER BY level, idx")
                ).all()
            assert "merkle_nodes" not in tables
            assert [tuple(r) for r in widths] == [
                (0, 0, 8192),
                (0, 1, 8192),
                (0, 2, 88 * 32),
                (1, 0, 64),
            ]
            proof = ledger.inclusion_proof(417, SIZE)
            assert proof.tree_size == SIZE
            more = ledger.parse_and_validate(
                jsonl([service_deployed(i) for i in range(SIZE, SIZE + 10)]), name="more"
            )
            assert [r.index for r in ledger.record(more)] == list(range(SIZE, SIZE + 10))
            ledger.checkpoint()
            assert ledger.verify().ok

    def test_damaged_v1_log_is_not_migrated(self, settings: Settings, tmp_path: Path) -> None:
        """A v1 log with a missing node fails the migration, names the node, and stays v1."""
        build_v1(settings, SIZE)
        engine = create_engine(settings.database_url)
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM merkle_nodes WHERE level = 0 AND idx = 300"))
        engine.dispose()
        with pytest.raises(StoreError, match="level 0, index 300 is missing"):
            Flightlog.open(settings)
        engine = create_engine(settings.database_url)
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        engine.dispose()
        assert "merkle_nodes" in tables
        assert "tiles" not in tables
        assert version == "0001"


def test_schema_revisions_read_from_the_files_are_alembics() -> None:
    """The head and the known revisions read without Alembic are the ones Alembic finds."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    head, known = schema_revisions()
    assert head == scripts.get_current_head()
    assert known == {s.revision for s in scripts.walk_revisions()}
