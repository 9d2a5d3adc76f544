"""Alembic environment: runs migrations on the engine handed over by ``desktop.db.engine``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from desktop.db.models import Base

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through desktop.db.engine.migrate()")

with engine.begin() as connection:
    # render_as_batch lets ALTERs work on SQLite, which rebuilds tables to change them.
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    context.run_migrations()
