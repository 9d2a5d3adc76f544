"""campaigns: the language their recipients' public pages speak

An agent's unsubscribe page and preference center speak a campaign's ``lang:<xx>`` tag; the
desktop sends its campaign's language as that tag. Empty (every campaign saved before): each
recipient's browser chooses.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``language``, empty for the campaigns there are."""
    op.add_column(
        "campaigns",
        sa.Column("language", sa.String(length=8), nullable=False, server_default=""),
    )


def downgrade() -> None:
    """Drop the column again."""
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("language")
