"""Alembic environment: runs migrations on the engine handed in by `store.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from sarportal.store.models import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through sarportal.store.migrate (sarportal db upgrade)")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
