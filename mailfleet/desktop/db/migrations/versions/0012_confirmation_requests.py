"""confirmation requests: imported contacts a form's agent still has to send the DOI mail

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import mailfleet.desktop.db.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the table."""
    op.create_table(
        "confirmation_requests",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("form_pk", sa.Integer(), nullable=False),
        sa.Column("created_at", mailfleet.desktop.db.types.UTCDateTime(), nullable=False),
        sa.Column("sent_at", mailfleet.desktop.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_confirmation_requests_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["form_pk"],
            ["signup_forms.id"],
            name=op.f("fk_confirmation_requests_form_pk_signup_forms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", "form_pk", name=op.f("pk_confirmation_requests")),
    )


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("confirmation_requests")
