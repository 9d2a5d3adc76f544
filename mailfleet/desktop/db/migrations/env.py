"""Alembic environment: runs migrations on the engine handed over by
``mailfleet.desktop.db.engine``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from mailfleet.desktop.db.models import Base

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through mailfleet.desktop.db.engine.migrate()")

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Rebuilding a table (batch mode) drops the old one, and with foreign keys on SQLite
        # cascades that drop to every row referring to it (a contact's list memberships). The
        # pragma only takes effect outside a transaction, so it is set before one begins.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    with connection.begin():
        # render_as_batch lets ALTERs work on SQLite, which rebuilds tables to change them.
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=True,
            compare_type=True,
        )
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
            if broken is not None:
                raise RuntimeError(f"a migration broke a foreign key: {tuple(broken)}")
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
