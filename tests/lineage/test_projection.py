"""The lineage tables: written with every append, equal to a rebuild from the ledger alone."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from flightlog.service import Flightlog
from flightlog.store.lineage import LINEAGE_TABLES, rebuild_lineage


def _state(fl: Flightlog) -> dict[str, list[tuple[Any, ...]]]:
    with fl.store.engine.connect() as conn:
        state = {
            name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]
            for name, t in LINEAGE_TABLES.items()
        }
        column = "rowid" if conn.dialect.name == "sqlite" else "idx"
        state["search_index"] = [
            tuple(r)
            for r in conn.execute(sa.text(f"SELECT {column}, body FROM search_index ORDER BY 1"))
        ]
    return state


class TestLineageTables:
    def test_appends_fill_the_tables(self, history: Flightlog) -> None:
        """The demo history gives its deployments, changes, tests, scans, approvals, incidents."""
        state = _state(history)
        deployed = [(r[3], r[4], r[6], r[7]) for r in state["deployments"] if r[7] != "started"]
        assert deployed == [
            ("payments", "staging", "1.4.0", "success"),
            ("payments", "production", "1.4.0", "success"),
            ("web", "staging", "2.7.0", "success"),
            ("web", "production", "2.7.0", "success"),
            ("payments", "staging", "1.5.0", "success"),
            ("payments", "production", "1.5.0", "success"),
            ("payments", "staging", "1.6.0", "success"),
            ("payments", "production", "1.6.0", "success"),
            ("payments", "production", "1.5.0", "success"),
        ]
        assert [(r[8], r[9]) for r in state["test_runs"]] == [
            ("success", 240),
            ("success", 240),
            ("failure", 240),
        ]
        assert [r[7] for r in state["scans"]] == [0, 0, 0, 1]
        assert [(r[6], r[8]) for r in state["approvals"]] == [
            ("carol", "acme/payments#1"),
            ("dave", "acme/payments#3"),
            ("bob", "acme/payments#4"),
        ]
        assert [(r[2], r[5]) for r in state["incidents"]] == [
            ("INC-7", "open"),
            ("INC-7", "resolved"),
        ]
        assert sorted({r[0] for r in state["tickets"]}) == [
            "INC-7",
            "PAY-101",
            "PAY-102",
            "PAY-110",
            "PAY-111",
            "PAY-120",
            "PAY-121",
            "WEB-31",
        ]
        assert len(state["search_index"]) == history.tree_size()

    def test_rebuild_equals_the_incremental_state(self, history: Flightlog) -> None:
        """Rebuilding from the ledger alone gives exactly the rows the appends wrote."""
        before = _state(history)
        assert rebuild_lineage(history.store.engine) == history.tree_size()
        assert _state(history) == before

    def test_erasure_removes_the_rows_and_rebuild_agrees(self, history: Flightlog) -> None:
        """An erased payload takes its rows with it, and a rebuild finds the same."""
        with history.store.engine.connect() as conn:
            scan = conn.execute(sa.select(LINEAGE_TABLES["scans"].c.idx)).scalars().first()
        assert scan is not None
        history.erase(scan, reason="pasted a secret", actor="dpo")
        after = _state(history)
        assert scan not in [r[0] for r in after["scans"]]
        rebuild_lineage(history.store.engine)
        assert _state(history) == after
