"""Alembic environment: migrations run on the connection Flightlog hands in."""

from __future__ import annotations

from alembic import context

from flightlog.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - Flightlog always passes its connection
    raise RuntimeError("flightlog migrations run through flightlog.store.migrate")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
