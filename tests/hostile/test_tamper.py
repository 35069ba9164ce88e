"""Tampered cells, forged erasures and drifted indexes, on SQLite and PostgreSQL.

``verify`` must name an index and a kind for every mutation of a real database, and
never raise.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from flightlog.cli.app import app
from flightlog.config import Settings
from flightlog.events.canonical import parse_document
from flightlog.events.envelope import ERASURE_TYPE
from flightlog.ledger.entry import utc_now
from flightlog.service import Flightlog, prepare_event
from tests.factories import jsonl, service_deployed

SIZE = 6


def _events() -> list[dict[str, Any]]:
    events = [service_deployed(i) for i in range(SIZE)]
    events[2]["customData"] = {"flightlog": {"ticket": "PAY-9", "actor": "erin"}}
    return events


@pytest.fixture
def fl(settings: Settings) -> Iterator[Flightlog]:
    """A verified log of six entries with one checkpoint."""
    ledger = Flightlog.open(settings)
    ledger.record(ledger.parse_and_validate(jsonl(_events()), name="seed"))
    ledger.checkpoint()
    assert ledger.verify().ok
    yield ledger
    ledger.close()


def sql(fl: Flightlog, statement: str, **params: object) -> None:
    """Run raw SQL as an attacker with database access would."""
    with fl.store.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def _forged_erasure(fl: Flightlog, index: int, source: str) -> dict[str, Any]:
    digest = fl.show(index).leaf.payload_sha256
    return {
        "context": {
            "specversion": "0.5.1",
            "id": "forged-erasure",
            "source": source,
            "type": ERASURE_TYPE,
            "timestamp": utc_now(),
        },
        "subject": {
            "id": f"ledger/{index}",
            "source": source,
            "content": {
                "index": index,
                "payloadSha256": digest,
                "reason": "forged",
                "erasedBy": "mallory",
            },
        },
    }


class TestErasures:
    """verify accepts a missing payload only for a genuine erasure."""

    def test_forged_erasure_does_not_cover_a_deleted_payload(self, fl: Flightlog) -> None:
        """An erasure record from another source (as ingest once allowed) covers nothing."""
        forged = _forged_erasure(fl, 1, "https://ci.example.com/attacker")
        doc = parse_document(json.dumps(forged), name="forged")
        fl.record([prepare_event(doc, erasure=True)])
        sql(fl, "UPDATE entries SET payload = NULL WHERE idx = 1")
        report = fl.verify()
        assert report.problem is not None
        assert (report.problem.index, report.problem.kind) == (1, "payload_altered")

    def test_erasure_with_another_digest_covers_nothing(self, fl: Flightlog) -> None:
        """An erasure naming the index but not its digest does not excuse a deleted payload."""
        forged = _forged_erasure(fl, 3, f"/flightlog/{fl.settings.origin}")
        forged["subject"]["content"]["payloadSha256"] = "ab" * 32
        fl.record([prepare_event(parse_document(json.dumps(forged), name="f"), erasure=True)])
        sql(fl, "UPDATE entries SET payload = NULL WHERE idx = 3")
        report = fl.verify()
        assert report.problem is not None
        assert (report.problem.index, report.problem.kind) == (3, "payload_altered")

    def test_genuine_erasure_verifies(self, fl: Flightlog) -> None:
        """flightlog erase leaves a log that verifies, with the index listed as erased."""
        fl.erase(2, reason="secret pasted", actor="carol")
        report = fl.verify()
        assert report.ok, report.problem
        assert report.erased == [2]


class TestDerivedIndexes:
    """Refs and the time index are re-derived from the payloads."""

    def test_deleted_refs_are_drift(self, fl: Flightlog) -> None:
        """Deleting an entry's ticket ref is index_drift at that index."""
        sql(fl, "DELETE FROM refs WHERE idx = 2 AND kind = 'ticket'")
        report = fl.verify()
        assert report.problem is not None
        assert (report.problem.index, report.problem.kind) == (2, "index_drift")
        assert "lacks ticket=PAY-9" in report.problem.detail

    def test_added_ref_is_drift(self, fl: Flightlog) -> None:
        """A ref row the payload does not yield is index_drift."""
        sql(fl, "INSERT INTO refs (kind, value, idx) VALUES ('ticket', 'OPS-1', 4)")
        report = fl.verify()
        assert report.problem is not None
        assert (report.problem.index, report.problem.kind) == (4, "index_drift")

    def test_ref_for_no_entry_is_drift(self, fl: Flightlog) -> None:
        """A ref naming an index past the log is index_drift at that index."""
        sql(fl, "INSERT INTO refs (kind, value, idx) VALUES ('ticket', 'OPS-1', 99)")
        report = fl.verify()
        assert report.problem is not None
        assert (report.problem.index, report.problem.kind) == (99, "index_drift")

    def test_drift_is_found_by_worker_processes(self, fl: Flightlog) -> None:
        """With two verification processes the same drift is named at the same index."""
        sql(fl, "DELETE FROM refs WHERE idx = 5")
        report = fl.verify(workers=2)
        assert report.problem is not None
        assert (report.problem.index, report.problem.kind) == (5, "index_drift")

    def test_changed_time_index_is_drift(self, fl: Flightlog) -> None:
        """A rewritten time_utc (hiding an entry from --since) is index_drift."""
        sql(fl, "UPDATE entries SET time_utc = '1999-01-01T00:00:00.000000Z' WHERE idx = 3")
        report = fl.verify()
        assert report.problem is not None
        assert (report.problem.index, report.problem.kind) == (3, "index_drift")
        assert "time index of entry 3" in report.problem.detail


# Cells an attacker might rewrite: (table, column, key column, condition naming one row per key).
_CELLS = [
    ("entries", "payload", "idx", "TRUE"),
    ("entries", "event_id", "idx", "TRUE"),
    ("entries", "source", "idx", "TRUE"),
    ("entries", "type", "idx", "TRUE"),
    ("entries", "time", "idx", "TRUE"),
    ("entries", "time_utc", "idx", "TRUE"),
    ("entries", "received_at", "idx", "TRUE"),
    ("entries", "payload_sha256", "idx", "TRUE"),
    ("tiles", "hashes", "idx", "level = 0"),
    ("refs", "value", "idx", "kind = 'service'"),
]
_MUTATIONS = ["null", "flip", "truncate", "text", "integer", "blob"]


def _mutated(value: Any, how: str, bit: int) -> Any:  # noqa: PLR0911 - one return per mutation
    if how == "null":
        return None
    if how == "text":
        return "not the original"
    if how == "integer":
        return 7
    if how == "blob":
        return b"\x00\xffnot the original"
    raw = bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
    if how == "truncate":
        cut = raw[: len(raw) // 2]
        return cut if isinstance(value, (bytes, memoryview)) else cut.decode("ascii", "ignore")
    position = bit % (len(raw) * 8)
    flipped = bytearray(raw)
    flipped[position // 8] ^= 1 << (position % 8)
    if isinstance(value, (bytes, memoryview)):
        return bytes(flipped)
    # Text cells stay printable ASCII so both stores accept them.
    char = flipped[position // 8]
    if not 0x20 <= char < 0x7F:
        flipped[position // 8] = raw[position // 8] ^ 0x01 if raw[position // 8] != 0x21 else 0x22
    return flipped.decode("ascii", "replace")


def _cli(settings: Settings) -> CliRunner:
    return CliRunner(
        env={
            "FLIGHTLOG_DATABASE_URL": settings.database_url,
            "FLIGHTLOG_HOME": str(settings.home),
            "FLIGHTLOG_ORIGIN": settings.origin,
            "FLIGHTLOG_SERVER": "",
        }
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@hyp_settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
@given(
    cell=st.sampled_from(_CELLS),
    row=st.integers(min_value=0, max_value=SIZE - 1),
    how=st.sampled_from(_MUTATIONS),
    bit=st.integers(min_value=0, max_value=10_000),
)
def test_mutated_cell_fails_verify_with_an_index(
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    cell: tuple[str, str, str, str],
    row: int,
    how: str,
    bit: int,
) -> None:
    """Any real change to one cell makes `verify` exit 1 naming an index, never a traceback."""
    url = _store_url(backend, tmp_path_factory, request)
    home = Path(url.removeprefix("sqlite:///")).parent if backend == "sqlite" else _PG_HOME
    settings = Settings(database_url=url, home=home / "home", origin="mutate.example/log")
    with Flightlog.open(settings) as fl:
        if fl.tree_size() == 0:
            fl.record(fl.parse_and_validate(jsonl(_events()), name="seed"))
            fl.checkpoint()
        table, column, key, where = cell
        with fl.store.engine.connect() as conn:
            rows = conn.execute(
                sa.text(f"SELECT {key}, {column} FROM {table} WHERE {where} ORDER BY {key}")
            ).all()
        assume(rows)
        target_key, value = rows[row % len(rows)]
        new = _mutated(value, how, bit)
        assume(new != value and not (isinstance(value, bytes) and new == bytes(value)))
        try:
            with fl.store.engine.begin() as conn:
                conn.execute(
                    sa.text(f"UPDATE {table} SET {column} = :v WHERE {key} = :k AND {where}"),
                    {"v": new, "k": target_key},
                )
        except sa.exc.DBAPIError:
            # NOT NULL, a typed column or a uniqueness rule refused the change: nothing to find.
            assume(False)
        with fl.store.engine.connect() as conn:
            stored = conn.execute(
                sa.text(f"SELECT {column} FROM {table} WHERE {key} = :k AND {where}"),
                {"k": target_key},
            ).first()
        assume(stored is not None and stored[0] != value)
        try:
            result = _cli(settings).invoke(app, ["verify", "--json"])
            assert result.exit_code == 1, result.output
            assert isinstance(result.exception, SystemExit), repr(result.exception)
            doc = json.loads(result.stdout)
            assert doc["ok"] is False
            assert isinstance(doc["problem"]["index"], int), doc
            assert "Traceback" not in result.output
        finally:
            with fl.store.engine.begin() as conn:
                conn.execute(
                    sa.text(f"UPDATE {table} SET {column} = :v WHERE {key} = :k AND {where}"),
                    {"v": value, "k": target_key},
                )


_STORES: dict[str, str] = {}
_PG_HOME = Path()


def _store_url(
    backend: str, factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> str:
    """One store per backend for all examples (each example restores what it changed)."""
    node = request.node.nodeid
    if node not in _STORES:
        if backend == "sqlite":
            _STORES[node] = f"sqlite:///{factory.mktemp('mutate') / 'ledger.db'}"
        else:
            global _PG_HOME  # noqa: PLW0603 - one key home per PostgreSQL store
            _PG_HOME = factory.mktemp("pg-home")
            _STORES[node] = str(request.getfixturevalue("postgres_url"))
    return _STORES[node]
