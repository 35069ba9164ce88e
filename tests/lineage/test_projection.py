"""The lineage tables: written with every append, equal to a rebuild from the ledger alone."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from flightlog.demo import demo_history
from flightlog.events.refs import extract_refs
from flightlog.lineage.projection import COLUMNS, project_event, search_text
from flightlog.service import Flightlog
from flightlog.store.lineage import LINEAGE_TABLES, rebuild_lineage
from tests.lineage.conftest import START, lineage_state


class TestLineageTables:
    def test_appends_fill_the_tables(self, history: Flightlog) -> None:
        """The demo history gives its deployments, changes, tests, scans, approvals, incidents."""
        state = lineage_state(history)
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

    def test_rebuild_equals_the_incrementallineage_state(self, history: Flightlog) -> None:
        """Rebuilding from the ledger alone gives exactly the rows the appends wrote."""
        before = lineage_state(history)
        assert rebuild_lineage(history.store.engine) == history.tree_size()
        assert lineage_state(history) == before

    def test_erasure_removes_the_rows_and_rebuild_agrees(self, history: Flightlog) -> None:
        """An erased payload takes its rows with it, and a rebuild finds the same."""
        with history.store.engine.connect() as conn:
            scan = conn.execute(sa.select(LINEAGE_TABLES["scans"].c.idx)).scalars().first()
        assert scan is not None
        history.erase(scan, reason="pasted a secret", actor="dpo")
        after = lineage_state(history)
        assert scan not in [r[0] for r in after["scans"]]
        rebuild_lineage(history.store.engine)
        assert lineage_state(history) == after


def _event(event_type: str, subject: object, custom: object = None) -> dict[str, Any]:
    event: dict[str, Any] = {"context": {"id": "e1", "type": event_type}, "subject": subject}
    if custom is not None:
        event["customData"] = custom
    return event


class TestProjectEvent:
    def test_rows_are_in_their_tables_column_order(self) -> None:
        """Every row of the demo history has one value per column of its table."""
        for _, events in demo_history(START):
            for event in events:
                for table, values in project_event(
                    event, extract_refs(event), index=1, time_utc="t"
                ):
                    assert len(values) == len(COLUMNS[table])
                    assert values[COLUMNS[table].index("idx")] == 1

    def test_a_field_of_the_wrong_json_type_reads_as_absent(self) -> None:
        """Content, custom data or findings that are not objects or lists give the defaults."""
        scan = _event(
            "dev.cdeventsx.flightlog-vulnerabilityscan.finished.0.1.0",
            {"id": "s1", "content": {"findings": 5, "counts": "many", "tool": ["x"]}},
            custom=7,
        )
        assert project_event(scan, [("ticket", "PAY-1")], index=3, time_utc="t") == [
            ("scans", (3, "t", None, None, None, None, "unknown", 0, 0, 0, 0, None)),
            ("tickets", ("PAY-1", 3, "t")),
        ]
        assert search_text(scan, [("ticket", "PAY-1")]) == "PAY-1\ns1"

    def test_each_refs_first_value_links_the_row(self) -> None:
        """A deployment takes the first ref of each kind; tickets come once each, sorted."""
        deployed = _event(
            "dev.cdeventsx.flightlog-deployment.finished.0.1.0",
            {"id": "d1", "content": {"service": {"id": "web"}, "outcome": "success"}},
        )
        refs = [
            ("environment", "prod"),
            ("environment", "staging"),
            ("ticket", "WEB-2"),
            ("actor", "ann"),
            ("ticket", "WEB-1"),
            ("ticket", "WEB-2"),
        ]
        rows = project_event(deployed, refs, index=9, time_utc="t")
        assert rows == [
            (
                "deployments",
                (9, "t", "d1", "web", "prod", None, None, "success", None, "ann", None, None),
            ),
            ("tickets", ("WEB-1", 9, "t")),
            ("tickets", ("WEB-2", 9, "t")),
        ]

    def test_an_event_of_another_subject_gives_only_its_tickets(self) -> None:
        """A webhook delivery record, or a type too short to name a subject, adds no row."""
        for event_type in ("dev.cdeventsx.flightlog-webhook.received.0.1.0", "dev.cdevents"):
            event = _event(event_type, {"id": "w1", "content": {"message": "fix PAY-3"}})
            assert project_event(event, [("ticket", "PAY-3")], index=0, time_utc="t") == [
                ("tickets", ("PAY-3", 0, "t"))
            ]
            assert search_text(event, [("ticket", "PAY-3")]) == "PAY-3\nw1\nfix PAY-3"
