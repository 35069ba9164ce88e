"""Taking a store to a given schema revision, to test the migration after it."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from flightlog.store.engine import write_transaction
from flightlog.store.ledger import alembic_config


def _migrate(engine: sa.Engine, step: Callable[[Config, str], None], revision: str) -> None:
    cfg = alembic_config()
    with write_transaction(engine) as conn:
        cfg.attributes["connection"] = conn
        step(cfg, revision)


def upgrade(engine: sa.Engine, revision: str) -> None:
    """Run the migrations up to ``revision`` on ``engine``'s store."""
    _migrate(engine, command.upgrade, revision)


def downgrade(engine: sa.Engine, revision: str) -> None:
    """Run the migrations down to ``revision`` on ``engine``'s store."""
    _migrate(engine, command.downgrade, revision)
