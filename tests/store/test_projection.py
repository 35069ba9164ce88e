"""Projections run inside the append transaction: written with it, or not at all."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
import sqlalchemy as sa

from flightlog.config import Settings
from flightlog.errors import StoreError
from flightlog.service import Flightlog
from flightlog.store.ledger import Appended
from flightlog.store.reads import EntryReader, Query
from tests.factories import jsonl, service_deployed

projection_meta = sa.MetaData()
deployments = sa.Table(
    "test_deployments",
    projection_meta,
    sa.Column("idx", sa.BigInteger, primary_key=True),
    sa.Column("service", sa.Text, nullable=False),
    sa.Column("environment", sa.Text, nullable=False),
)


def project_deployments(conn: sa.Connection, appended: Sequence[Appended]) -> None:
    """Write one row per deployment event, from its refs."""
    rows = []
    for entry in appended:
        refs = dict(entry.event.refs)
        if entry.event.type.startswith("dev.cdevents.service.deployed."):
            rows.append(
                {"idx": entry.index, "service": refs["service"], "environment": refs["environment"]}
            )
    if rows:
        conn.execute(deployments.insert(), rows)


@pytest.fixture
def fl(settings: Settings) -> Iterator[Flightlog]:
    """A ledger with the deployments projection registered."""
    ledger = Flightlog.open(settings)
    projection_meta.create_all(ledger.store.engine)
    ledger.store.projections.append(project_deployments)
    yield ledger
    ledger.close()


def _rows(fl: Flightlog) -> list[tuple[int, str, str]]:
    with fl.store.engine.connect() as conn:
        return [
            (int(r.idx), r.service, r.environment)
            for r in conn.execute(sa.select(deployments).order_by(deployments.c.idx))
        ]


class TestProjection:
    def test_appended_entries_are_projected(self, fl: Flightlog) -> None:
        """Each new entry gets its row, with its ledger index; duplicates are not projected twice."""
        events = [service_deployed(i, service="api", env="staging") for i in range(3)]
        fl.record(fl.parse_and_validate(jsonl(events), name="a"))
        fl.record(fl.parse_and_validate(jsonl(events), name="a"))
        assert _rows(fl) == [(0, "api", "staging"), (1, "api", "staging"), (2, "api", "staging")]

    def test_a_failing_projection_aborts_the_append(self, fl: Flightlog) -> None:
        """When a projection raises, neither the entries nor the projection rows are written."""

        def broken(conn: sa.Connection, appended: Sequence[Appended]) -> None:
            raise StoreError("projection failed")

        fl.record(fl.parse_and_validate(jsonl([service_deployed(0)]), name="a"))
        fl.store.projections.append(broken)
        with pytest.raises(StoreError, match="projection failed"):
            fl.record(fl.parse_and_validate(jsonl([service_deployed(1)]), name="b"))
        fl.store.projections.remove(broken)
        assert fl.tree_size() == 1
        assert [r[0] for r in _rows(fl)] == [0]
        fl.record(fl.parse_and_validate(jsonl([service_deployed(1)]), name="b"))
        assert [r[0] for r in _rows(fl)] == [0, 1]
        assert fl.verify().ok


def count_matching(reader: EntryReader, service: str) -> int:
    """A read-side consumer written against the port, not the store class."""
    return len(reader.query(Query(refs=(("service", service),)), after=None, limit=100))


class TestReadPort:
    def test_the_store_is_an_entry_reader(self, fl: Flightlog) -> None:
        """Consumers typed on EntryReader read a real store."""
        events = [service_deployed(i, service="web" if i % 2 else "api") for i in range(5)]
        fl.record(fl.parse_and_validate(jsonl(events), name="a"))
        assert count_matching(fl.store, "web") == 2
        assert count_matching(fl.store, "api") == 3
