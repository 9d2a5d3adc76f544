"""commit-ordered suppression ids: on PostgreSQL a suppression's (and a removal's) id is drawn
only once its transaction has a transaction id, so a push can tell when no writer still holds
a lower id (services/commit_order.py). SQLite: nothing to do.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_TABLES = ("suppressions", "suppression_removals")


def upgrade() -> None:
    """Give the tables' ids a default that takes a transaction id first."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(
            f"""CREATE FUNCTION mailfleet_next_{table}_id() RETURNS bigint LANGUAGE plpgsql
            VOLATILE AS $$
            BEGIN
                PERFORM pg_current_xact_id();
                RETURN nextval(pg_get_serial_sequence('{table}', 'id'));
            END $$"""
        )
        op.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT mailfleet_next_{table}_id()")


def downgrade() -> None:
    """Back to the plain sequence default."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(
            f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT"
            f" nextval(pg_get_serial_sequence('{table}', 'id'))"
        )
        op.execute(f"DROP FUNCTION mailfleet_next_{table}_id()")
