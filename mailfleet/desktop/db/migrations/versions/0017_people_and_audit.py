"""people, their own agent keys, invites, and the team's audit log

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import mailfleet.desktop.db.types

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the tables and the agents' audit cursor."""
    with op.batch_alter_table("agents") as batch:
        batch.add_column(
            sa.Column("audit_cursor", sa.BigInteger(), server_default="0", nullable=False)
        )
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", mailfleet.desktop.db.types.UTCDateTime(), nullable=False),
        sa.Column("joined_at", mailfleet.desktop.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_people_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_people_workspace_id_name")),
    )
    op.create_table(
        "person_agent_keys",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("key_ref", sa.String(length=100), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_person_agent_keys_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_person_agent_keys_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", "agent_id", name=op.f("pk_person_agent_keys")),
    )
    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", mailfleet.desktop.db.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", mailfleet.desktop.db.types.UTCDateTime(), nullable=False),
        sa.Column("redeemed_at", mailfleet.desktop.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_invites_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
    )
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("at", mailfleet.desktop.db.types.UTCDateTime(), nullable=False),
        sa.Column("person", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("agent_entry_id", sa.BigInteger(), nullable=True),
        sa.Column("origin", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.String(length=300), nullable=False),
        sa.Column("outcome", sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_audit_entries_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_audit_entries_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
        sa.UniqueConstraint(
            "agent_id", "agent_entry_id", name=op.f("uq_audit_entries_agent_id_agent_entry_id")
        ),
    )
    op.create_index(
        op.f("ix_audit_entries_workspace_id_at"), "audit_entries", ["workspace_id", "at"]
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_index(op.f("ix_audit_entries_workspace_id_at"), table_name="audit_entries")
    op.drop_table("audit_entries")
    op.drop_table("invites")
    op.drop_table("person_agent_keys")
    op.drop_table("people")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("audit_cursor")
