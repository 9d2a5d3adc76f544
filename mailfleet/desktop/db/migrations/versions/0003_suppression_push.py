"""suppression push: per-agent cursors, removals kept for the agents, ids never reused

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import mailfleet.desktop.db.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _suppressions() -> sa.Table:
    """The suppressions table as revision 0001 created it."""
    return sa.Table(
        "suppressions",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("created_at", mailfleet.desktop.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "reason IN ('unsubscribed', 'bounced', 'complained', 'manual', 'erased')",
            name="ck_suppressions_reason",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name="fk_suppressions_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_suppressions"),
        sa.UniqueConstraint(
            "workspace_id", "email_hash", name="uq_suppressions_workspace_id_email_hash"
        ),
    )


def upgrade() -> None:
    """Apply this migration."""
    # The push cursor relies on entry ids that only grow: SQLite reuses the highest id after a
    # delete unless the table is AUTOINCREMENT, so the table is rebuilt as one (PostgreSQL's
    # sequences never go back).
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "suppressions",
            copy_from=_suppressions(),
            recreate="always",
            table_kwargs={"sqlite_autoincrement": True},
        ):
            pass
    op.create_table(
        "suppression_removals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", mailfleet.desktop.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_suppression_removals_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression_removals")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("suppression_cursor", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("removal_cursor", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("removal_cursor")
        batch_op.drop_column("suppression_cursor")
    op.drop_table("suppression_removals")
