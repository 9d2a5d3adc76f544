"""workspaces: where the SpamAssassin daemon that scores their messages runs

The pre-send checks ask a spamd at this host:port for a spam score. Empty (every workspace
before): the spam check is not set up.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``spamd_address``, empty for the workspaces there are."""
    op.add_column(
        "workspaces",
        sa.Column("spamd_address", sa.String(length=300), nullable=False, server_default=""),
    )


def downgrade() -> None:
    """Drop the column again."""
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("spamd_address")
