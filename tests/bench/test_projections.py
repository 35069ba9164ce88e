"""The projections benchmark's floor variants write exactly the rows the projection writes."""

from __future__ import annotations

from pathlib import Path

from bench.projections import (
    ROWS_ONLY,
    TABLES_ONLY,
    WITH,
    precomputed_rows,
    timed_append,
    workload,
)

from flightlog.config import Settings
from flightlog.service import Flightlog
from tests.lineage.conftest import lineage_state


def test_rows_computed_beforehand_equal_the_projections_rows(tmp_path: Path) -> None:
    """The precomputed rows leave the same tables and search index; without search, none."""
    work = workload(2_500)  # three transactions, the last one short
    rows = precomputed_rows(work)
    states = {}
    for variant in (WITH, ROWS_ONLY, TABLES_ONLY):
        url = f"sqlite:///{tmp_path}/{variant.replace(' ', '-')}.db"
        timing = timed_append(url, tmp_path / "home", work, variant, rows)
        assert timing.wall > 0
        settings = Settings(database_url=url, home=tmp_path / "home", origin="bench.example/log")
        with Flightlog.open(settings) as fl:
            assert fl.tree_size() == 2_500
            states[variant] = lineage_state(fl)
    assert states[ROWS_ONLY] == states[WITH]
    assert len(states[WITH]["search_index"]) == 2_500
    assert states[TABLES_ONLY] == {**states[WITH], "search_index": []}
