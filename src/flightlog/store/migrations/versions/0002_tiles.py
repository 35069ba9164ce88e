"""The Merkle tree as C2SP tlog-tiles: ``merkle_nodes`` becomes ``tiles``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

from flightlog.errors import StoreError

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_HEIGHT = 8
_WIDTH = 1 << _HEIGHT
_BATCH = 64  # tiles per insert


def _tiles_of_level(conn: sa.Connection, level: int, count: int) -> Iterator[tuple[int, bytes]]:
    """Group the stored nodes of one tree level into tiles; fail on a gap."""
    rows = conn.execute(
        sa.text("SELECT idx, hash FROM merkle_nodes WHERE level = :l AND idx < :n ORDER BY idx"),
        {"l": level, "n": count},
    )
    expected = 0
    tile: list[bytes] = []
    for idx, value in rows:
        if int(idx) != expected or len(value) != 32:
            raise StoreError(
                f"the Merkle node at level {level}, index {expected} is missing or damaged; "
                "run `flightlog verify` with the previous version and restore from a backup"
            )
        tile.append(bytes(value))
        expected += 1
        if len(tile) == _WIDTH:
            yield (expected - 1) >> _HEIGHT, b"".join(tile)
            tile = []
    if expected != count:
        raise StoreError(
            f"the Merkle node at level {level}, index {expected} is missing; "
            "run `flightlog verify` with the previous version and restore from a backup"
        )
    if tile:
        yield expected >> _HEIGHT, b"".join(tile)


def upgrade() -> None:
    """Create ``tiles`` from the stored nodes on tile levels, then drop ``merkle_nodes``."""
    op.create_table(
        "tiles",
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hashes", sa.LargeBinary, nullable=False),
    )
    conn = op.get_bind()
    size = int(
        conn.execute(sa.text("SELECT tree_size FROM ledger_state WHERE id = 1")).scalar_one()
    )
    insert = sa.text("INSERT INTO tiles (level, idx, hashes) VALUES (:l, :i, :h)")
    tile_level = 0
    while size >> (_HEIGHT * tile_level):
        batch: list[dict[str, object]] = []
        count = size >> (_HEIGHT * tile_level)
        for index, data in _tiles_of_level(conn, _HEIGHT * tile_level, count):
            batch.append({"l": tile_level, "i": index, "h": data})
            if len(batch) == _BATCH:
                conn.execute(insert, batch)
                batch = []
        if batch:
            conn.execute(insert, batch)
        tile_level += 1
    op.drop_table("merkle_nodes")


def downgrade() -> None:
    """Tiles cannot be turned back into per-node rows without rehashing: refuse."""
    raise RuntimeError("the tiles storage format cannot be downgraded; restore a backup instead")
