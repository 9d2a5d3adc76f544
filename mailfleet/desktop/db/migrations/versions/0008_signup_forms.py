"""signup forms, the agents that publish them, consent records, unconfirmed contacts

A contact signed up through a form is ``unconfirmed`` until its confirmation arrives; each
agent's ``signup_cursor`` is the last signup change applied from it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import mailfleet.desktop.db.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_STATUSES = ("subscribed", "unsubscribed", "bounced", "complained")
_WITH_UNCONFIRMED = ("subscribed", "unconfirmed", "unsubscribed", "bounced", "complained")


def _status_check(statuses: tuple[str, ...]) -> None:
    # SQLite cannot alter a CHECK constraint: batch mode rebuilds the table with the new one.
    with op.batch_alter_table("contacts", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_contacts_status"), type_="check")
        batch.create_check_constraint(
            op.f("ck_contacts_status"), "status IN (" + ", ".join(f"'{s}'" for s in statuses) + ")"
        )


def upgrade() -> None:
    """Add the tables and the contacts' new status."""
    when = mailfleet.desktop.db.types.UTCDateTime
    _status_check(_WITH_UNCONFIRMED)
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("signup_cursor", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_table(
        "signup_forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", when(), nullable=False),
        sa.Column("updated_at", when(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_signup_forms_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signup_forms")),
        sa.UniqueConstraint("form_id", name=op.f("uq_signup_forms_form_id")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_signup_forms_workspace_id_name")),
    )
    op.create_table(
        "signup_form_agents",
        sa.Column("form_pk", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("pushed_revision", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("snippet", sa.Text(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_signup_form_agents_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["form_pk"],
            ["signup_forms.id"],
            name=op.f("fk_signup_form_agents_form_pk_signup_forms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("form_pk", "agent_id", name=op.f("pk_signup_form_agents")),
    )
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("signup_id", sa.BigInteger(), nullable=False),
        sa.Column("form_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("signed_up_at", when(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=False),
        sa.Column("consent_text", sa.Text(), nullable=False),
        sa.Column("consent_version", sa.String(length=200), nullable=False),
        sa.Column("confirmed_at", when(), nullable=True),
        sa.Column("confirm_ip", sa.String(length=64), nullable=False),
        sa.Column("confirm_user_agent", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_consent_records_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_consent_records_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_consent_records_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
        sa.UniqueConstraint(
            "agent_id", "signup_id", name=op.f("uq_consent_records_agent_id_signup_id")
        ),
    )


def downgrade() -> None:
    """Revert this migration; unconfirmed contacts become unsubscribed (they never confirmed)."""
    op.drop_table("consent_records")
    op.drop_table("signup_form_agents")
    op.drop_table("signup_forms")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("signup_cursor")
    op.execute("UPDATE contacts SET status = 'unsubscribed' WHERE status = 'unconfirmed'")
    _status_check(_STATUSES)
