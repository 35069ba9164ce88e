"""PostgreSQL search: the joined hyphenated words come in a column, the body is parsed once.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from flightlog.store.lineage import (
    HYPHENATED_SQL,
    HYPHENATED_TSV,
    JOINED_TSV,
    SEARCH_TABLE,
    search_tsv_sql,
)

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the ``hyphenated`` column, fill it, and index the body with it (PostgreSQL)."""
    if op.get_bind().dialect.name == "postgresql":
        # Tables created by this code's 0004 already have it.
        op.execute(sa.text(f"ALTER TABLE {SEARCH_TABLE} ADD COLUMN IF NOT EXISTS hyphenated TEXT"))
        op.execute(sa.text(f"UPDATE {SEARCH_TABLE} SET hyphenated = {HYPHENATED_SQL}"))  # noqa: S608
        for statement in search_tsv_sql(HYPHENATED_TSV):
            op.execute(sa.text(statement))


def downgrade() -> None:
    """Back to parsing the body with its hyphens removed, and no column."""
    if op.get_bind().dialect.name == "postgresql":
        for statement in search_tsv_sql(JOINED_TSV):
            op.execute(sa.text(statement))
        op.execute(sa.text(f"ALTER TABLE {SEARCH_TABLE} DROP COLUMN hyphenated"))
