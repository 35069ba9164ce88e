"""PostgreSQL search finds hyphenated words (ticket keys, CVE ids) from its index alone.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from flightlog.store.lineage import JOINED_TSV, PLAIN_TSV, search_tsv_sql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Regenerate the search column with each hyphenated word also joined (PostgreSQL)."""
    if op.get_bind().dialect.name == "postgresql":
        for statement in search_tsv_sql(JOINED_TSV):
            op.execute(sa.text(statement))


def downgrade() -> None:
    """Back to the plain column."""
    if op.get_bind().dialect.name == "postgresql":
        for statement in search_tsv_sql(PLAIN_TSV):
            op.execute(sa.text(statement))
