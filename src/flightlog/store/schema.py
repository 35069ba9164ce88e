"""The relational schema of the ledger, shared by SQLite and PostgreSQL.

The ``entries`` table holds events in ledger order; ``tiles`` holds the Merkle tree as
C2SP tlog-tiles (one row per tile: up to 256 hashes of tree level ``8 * level``; a
partial tile's row grows until it is full), so a proof reads a handful of rows;
``refs`` indexes the join keys of each event; ``checkpoints`` keeps every signed note
ever cut; ``ledger_state`` is the one-row high-water mark appends serialise on.
Alembic migrations in ``flightlog/store/migrations`` create exactly these tables.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

entries = sa.Table(
    "entries",
    metadata,
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("time", sa.Text, nullable=False),
    sa.Column("time_utc", sa.Text, nullable=False),
    sa.Column("received_at", sa.Text, nullable=False),
    sa.Column("payload_sha256", sa.String(64), nullable=False),
    # RFC 8785 canonical bytes of the event as received; NULL once erased.
    sa.Column("payload", sa.LargeBinary, nullable=True),
    sa.UniqueConstraint("event_id", "source", name="uq_entries_event_id_source"),
)
sa.Index("ix_entries_type", entries.c.type)
sa.Index("ix_entries_time_utc", entries.c.time_utc)

tiles = sa.Table(
    "tiles",
    metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    # The tile's hashes concatenated: 32 bytes each, 8,192 bytes once full.
    sa.Column("hashes", sa.LargeBinary, nullable=False),
)

refs = sa.Table(
    "refs",
    metadata,
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("value", sa.Text, primary_key=True),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
)
sa.Index("ix_refs_idx", refs.c.idx)

checkpoints = sa.Table(
    "checkpoints",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tree_size", sa.BigInteger, nullable=False),
    sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
)
sa.Index("ix_checkpoints_tree_size", checkpoints.c.tree_size)

ledger_state = sa.Table(
    "ledger_state",
    metadata,
    sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("tree_size", sa.BigInteger, nullable=False),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    # SHA-256 of the secret token; the token itself is shown once and never stored.
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", sa.Text, nullable=False),  # space-separated: ingest read admin
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("revoked_at", sa.Text, nullable=True),
)
