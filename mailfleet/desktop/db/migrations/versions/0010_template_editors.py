"""templates: the editor a template is written in, and its source there

``editor`` is ``html`` (the HTML and text as typed: every template saved before), ``markdown``
or ``blocks``; ``source`` is the Markdown or the block design's JSON, from which the HTML and
text columns are rendered on saving, so campaigns and previews read those as before.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``editor`` (``html`` for the templates there are) and an empty ``source``."""
    op.add_column(
        "templates",
        sa.Column("editor", sa.String(length=16), nullable=False, server_default="html"),
    )
    op.add_column("templates", sa.Column("source", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    """Drop both columns again (the rendered HTML and text stay)."""
    with op.batch_alter_table("templates") as batch:
        batch.drop_column("source")
        batch.drop_column("editor")
