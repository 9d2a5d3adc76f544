"""campaign recipients: why a recipient failed or bounced, as the agent said

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable ``reason`` column (recipients of older campaigns have none)."""
    op.add_column("campaign_recipients", sa.Column("reason", sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Drop the column again."""
    with op.batch_alter_table("campaign_recipients") as batch:
        batch.drop_column("reason")
