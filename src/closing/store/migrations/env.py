"""Alembic environment: runs on the connection that `closing.store.migrate.upgrade` hands
it."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from closing.store import schema

schema.define_all()  # every table on SQLModel.metadata, those defined on first use too

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
