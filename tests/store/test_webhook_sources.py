"""Webhook sources in the database, and the recorded-delivery lookup, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from flightlog.config import Settings
from flightlog.errors import StoreError
from flightlog.service import Flightlog
from flightlog.store.webhook_sources import delivery_index
from tests.factories import service_deployed


def test_delivery_index_finds_the_recorded_event(settings: Settings) -> None:
    """The index of source + id once recorded; None for another id or another source."""
    with Flightlog.open(settings) as service:
        service.record_bytes(json.dumps(service_deployed(0)).encode(), name="a")
        event = service_deployed(1, source="/webhooks/github")
        event["context"]["id"] = "guid-1/0"
        [result] = service.record_bytes(json.dumps(event).encode(), name="b")
        engine = service.store.engine
        assert result.index == 1
        for _ in range(2):  # the second call reuses the compiled statement
            assert delivery_index(engine, "/webhooks/github", "guid-1/0") == 1
        assert delivery_index(engine, "/webhooks/github", "guid-2/0") is None
        assert delivery_index(engine, "/webhooks/gitlab", "guid-1/0") is None
        assert service.delivery_index("/webhooks/github", "guid-1/0") == 1
        assert service.webhook_sources.delivery_index("/webhooks/github", "guid-1/0") == 1
        assert service.webhook_sources.local_reads is (engine.dialect.name == "sqlite")


def test_delivery_index_on_a_broken_store_is_store_error(sqlite_settings: Settings) -> None:
    """A store whose entries table is gone answers StoreError, not a driver exception."""
    with Flightlog.open(sqlite_settings) as service:
        engine = service.store.engine
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE entries RENAME TO entries_gone"))
        with pytest.raises(StoreError, match="database unavailable"):
            delivery_index(engine, "/webhooks/github", "guid-1/0")
