"""Taking a store back to an earlier schema revision, to test the migration after it."""

from __future__ import annotations

from importlib import resources

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from flightlog.store.engine import write_transaction


def downgrade(engine: sa.Engine, revision: str) -> None:
    """Run the migrations down to ``revision`` on ``engine``'s store."""
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("flightlog.store") / "migrations"))
    with write_transaction(engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
