"""Migration 0005 adds the lineage read indexes to a 0004 store, and the answers stay the same."""

from __future__ import annotations

import sqlalchemy as sa

from flightlog.config import Settings
from flightlog.service import Flightlog
from flightlog.store.engine import create_engine
from flightlog.store.lineage import LATER_INDEXES
from tests.lineage.conftest import START, record_history
from tests.store.migrations import downgrade


def _indexes(engine: sa.Engine, table: str) -> set[str]:
    return {str(i["name"]) for i in sa.inspect(engine).get_indexes(table)}


class TestMigration0005:
    def test_a_0004_store_gets_the_indexes_and_answers_alike(self, settings: Settings) -> None:
        """Opening a 0004 store with the history adds the indexes; trace and suspects agree."""
        fl = Flightlog.open(settings)
        record_history(fl)
        incident = START.replace(day=START.day + 7, hour=0, minute=12)
        before = (
            fl.trace("production/payments"),
            fl.suspects("production", at=incident, window_seconds=4 * 86400),
        )
        fl.close()
        engine = create_engine(settings.database_url)
        try:
            downgrade(engine, "0004")
            for name, table, _ in LATER_INDEXES:
                assert name not in _indexes(engine, table)
        finally:
            engine.dispose()
        fl = Flightlog.open(settings)
        try:
            for name, table, _ in LATER_INDEXES:
                assert name in _indexes(fl.store.engine, table)
            after = (
                fl.trace("production/payments"),
                fl.suspects("production", at=incident, window_seconds=4 * 86400),
            )
            assert after == before
            assert after[1]["suspects"][0]["deployment"]["version"] == "1.6.0"
        finally:
            fl.close()
