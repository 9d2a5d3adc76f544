"""workspace branding: the logo, colours and language of the agents' unsubscribe and preference
pages (pushed with Signups.SetBranding), and which revision each agent has

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("brand_logo_url", 500),
    ("brand_accent_color", 7),
    ("brand_background_color", 7),
    ("brand_text_color", 7),
    ("brand_language", 8),
)


def upgrade() -> None:
    """Add the look, empty (the agents' defaults) at revision 0, which every agent has."""
    for name, length in _COLUMNS:
        op.add_column(
            "workspaces",
            sa.Column(name, sa.String(length=length), nullable=False, server_default=""),
        )
    op.add_column(
        "workspaces",
        sa.Column("brand_revision", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column(
        "agents",
        sa.Column("brand_revision", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("brand_revision")
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("brand_revision")
        for name, _length in _COLUMNS:
            batch.drop_column(name)
