"""Indexes for the questions on large ledgers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from flightlog.store.lineage import LATER_INDEXES

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the indexes the lineage reads use (see ``LATER_INDEXES``)."""
    quote = op.get_bind().dialect.identifier_preparer.quote
    for name, table, columns in LATER_INDEXES:
        listed = ", ".join(quote(c) for c in columns)
        op.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({listed})"))


def downgrade() -> None:
    """Drop them."""
    for name, _, _ in reversed(LATER_INDEXES):
        op.execute(sa.text(f"DROP INDEX IF EXISTS {name}"))
