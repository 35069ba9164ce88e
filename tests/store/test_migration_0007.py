"""Migration 0007: PostgreSQL search reads its joined hyphenated words from a column."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from flightlog.config import Settings
from flightlog.service import Flightlog
from flightlog.store.engine import create_engine
from flightlog.store.lineage import SEARCH_TABLE, hyphenated_words
from tests.lineage.conftest import record_history
from tests.store.migrations import downgrade

WORDS = ("PAY-101", "PAY-1", "CVE-2026-4242", "sepa", "payments")


def _hyphenated(engine: sa.Engine) -> list[tuple[str, str | None]]:
    """Each search row's body and ``hyphenated`` column (PostgreSQL)."""
    with engine.connect() as conn:
        sql = f"SELECT body, hyphenated FROM {SEARCH_TABLE} ORDER BY idx"
        return [(str(b), h) for b, h in conn.execute(sa.text(sql))]


class TestHyphenatedWords:
    def test_only_hyphenated_words_are_kept_joined(self) -> None:
        """Words without a hyphen are left out; the others lose their hyphens, in order."""
        assert hyphenated_words("fix PAY-101\nCVE-2026-4242\tsepa a-b") == "PAY101 CVE20264242 ab"

    def test_a_body_without_hyphens_gives_nothing(self) -> None:
        """Nothing to join: an empty string."""
        assert hyphenated_words("payments staging") == ""


class TestMigration0007:
    def test_a_0006_store_answers_alike_after_the_upgrade(self, settings: Settings) -> None:
        """Searches find the same entries before, at 0006 and after; the column is filled."""
        fl = Flightlog.open(settings)
        record_history(fl)
        before = [fl.search(w, limit=500)["results"] for w in WORDS]
        assert all(before)
        postgres = fl.store.engine.dialect.name == "postgresql"
        if postgres:
            rows = _hyphenated(fl.store.engine)
            assert [h for _, h in rows] == [hyphenated_words(b) for b, _ in rows]
            assert any(rows)
        fl.close()
        engine = create_engine(settings.database_url)
        try:
            downgrade(engine, "0006")
        finally:
            engine.dispose()
        fl = Flightlog.open(settings)
        try:
            if postgres:
                rows = _hyphenated(fl.store.engine)
                assert [h for _, h in rows] == [hyphenated_words(b) for b, _ in rows]
            assert [fl.search(w, limit=500)["results"] for w in WORDS] == before
        finally:
            fl.close()

    def test_a_row_written_without_the_column_is_still_found_by_its_joined_words(
        self, postgres_url: str, tmp_path: Path
    ) -> None:
        """A row copied in with only its body (NULL column) is indexed as before 0007."""
        fl = Flightlog.open(Settings(database_url=postgres_url, home=tmp_path / "home"))
        try:
            record_history(fl)
            with fl.store.engine.begin() as conn:
                conn.execute(sa.text(f"UPDATE {SEARCH_TABLE} SET hyphenated = NULL"))
                sql = (
                    f"SELECT count(*) FROM {SEARCH_TABLE} "
                    "WHERE tsv @@ to_tsquery('simple', 'pay101')"
                )
                assert int(conn.execute(sa.text(sql)).scalar_one()) > 0
        finally:
            fl.close()
