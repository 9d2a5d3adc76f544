"""workspace media bucket: where the media library's images are published, when not on agents

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("media_s3_endpoint", 500),
    ("media_s3_bucket", 255),
    ("media_s3_region", 64),
    ("media_s3_public_url", 500),
)


def upgrade() -> None:
    """Add the bucket's settings, empty (images on the agents) for the workspaces there are."""
    for name, length in _COLUMNS:
        op.add_column(
            "workspaces",
            sa.Column(name, sa.String(length=length), nullable=False, server_default=""),
        )


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("workspaces") as batch:
        for name, _length in _COLUMNS:
            batch.drop_column(name)
