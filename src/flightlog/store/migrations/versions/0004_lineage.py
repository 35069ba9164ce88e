"""The lineage tables and the search index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from flightlog.store.lineage import LINEAGE_TABLES, SEARCH_TABLE, create_search_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the lineage tables and the search index, then fill them from the ledger."""
    bind = op.get_bind()
    for table in LINEAGE_TABLES.values():
        table.create(bind)
    for statement in create_search_sql(bind.dialect.name):
        op.execute(sa.text(statement))
    # An existing ledger gets its lineage at once: the tables are a projection of it.
    from flightlog.store.lineage import fill_lineage

    fill_lineage(bind)


def downgrade() -> None:
    """Drop the search index and the lineage tables."""
    op.execute(sa.text(f"DROP TABLE {SEARCH_TABLE}"))
    for table in reversed(LINEAGE_TABLES.values()):
        table.drop(op.get_bind())
