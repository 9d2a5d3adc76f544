"""campaigns: an A/B test and a send window

``ab_test`` keeps the variants, the test share and the winner rule the wizard chose;
``send_window`` the weekdays and hours the campaign sends in. NULL (every campaign before):
no test, any hour.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add both columns, NULL for the campaigns there are."""
    op.add_column("campaigns", sa.Column("ab_test", sa.JSON(), nullable=True))
    op.add_column("campaigns", sa.Column("send_window", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("send_window")
        batch.drop_column("ab_test")
