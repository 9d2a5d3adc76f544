"""Alembic migrations for the desktop database (applied at start by ``open_database``)."""
