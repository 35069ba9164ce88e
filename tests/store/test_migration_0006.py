"""Migration 0006: PostgreSQL search keeps each hyphenated word also as one joined lexeme."""

from __future__ import annotations

import sqlalchemy as sa

from flightlog.config import Settings
from flightlog.service import Flightlog
from flightlog.store.engine import create_engine
from flightlog.store.lineage import SEARCH_TABLE, tsquery_of
from tests.lineage.conftest import record_history
from tests.store.migrations import downgrade


def _joined_matches(engine: sa.Engine, lexeme: str) -> int:
    """Rows whose search column holds ``lexeme`` as one word (PostgreSQL)."""
    with engine.connect() as conn:
        sql = f"SELECT count(*) FROM {SEARCH_TABLE} WHERE tsv @@ to_tsquery('simple', :q)"
        return int(conn.execute(sa.text(sql), {"q": lexeme}).scalar_one())


class TestTsqueryOf:
    def test_hyphens_are_joined_and_every_word_is_a_prefix(self) -> None:
        """``PAY-101 sepa`` asks for the joined ticket key and the word, both as prefixes."""
        assert tsquery_of(["pay-101", "sepa"]) == "pay101:* & sepa:*"

    def test_quotes_cannot_reach_the_query_syntax(self) -> None:
        """A quote in a word is dropped, not passed to ``to_tsquery``."""
        assert tsquery_of(["o'neil"]) == "oneil:*"


class TestMigration0006:
    def test_a_0005_store_answers_hyphenated_words_alike_after_the_upgrade(
        self, settings: Settings
    ) -> None:
        """Ticket keys and CVE ids are found before and after; on PostgreSQL as one lexeme."""
        fl = Flightlog.open(settings)
        record_history(fl)
        words = ("PAY-101", "PAY-1", "CVE-2026-4242", "sepa")
        before = [fl.search(w, limit=500)["results"] for w in words]
        assert all(before)
        postgres = fl.store.engine.dialect.name == "postgresql"
        if postgres:
            assert _joined_matches(fl.store.engine, "pay101") > 0
        fl.close()
        engine = create_engine(settings.database_url)
        try:
            downgrade(engine, "0005")
            if postgres:
                assert _joined_matches(engine, "pay101") == 0
        finally:
            engine.dispose()
        fl = Flightlog.open(settings)
        try:
            if postgres:
                assert _joined_matches(fl.store.engine, "pay101") > 0
            assert [fl.search(w, limit=500)["results"] for w in words] == before
        finally:
            fl.close()
