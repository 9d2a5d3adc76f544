"""agents, templates and campaigns

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import mailfleet.desktop.db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("key_ref", sa.String(length=100), nullable=False),
        sa.Column("local_dir", sa.String(length=1000), nullable=True),
        sa.Column("event_cursor", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at", mailfleet.desktop.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_agents_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint(
            "workspace_id", "host", "port", name=op.f("uq_agents_workspace_id_host_port")
        ),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_agents_workspace_id_name")),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(length=1000), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("from_name", sa.String(length=200), nullable=False),
        sa.Column("from_address", sa.String(length=320), nullable=False),
        sa.Column("reply_to", sa.String(length=320), nullable=False),
        sa.Column("throttle_per_minute", sa.Integer(), nullable=False),
        sa.Column("start_at", mailfleet.desktop.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("key_prefix", sa.String(length=64), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", mailfleet.desktop.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.CheckConstraint(
            "state IN ('draft', 'uploading', 'sending', 'paused', 'completed', 'cancelled')",
            name=op.f("ck_campaigns_state"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_campaigns_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_table(
        "templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=1000), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "updated_at", mailfleet.desktop.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_templates_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_templates")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_templates_workspace_id_name")),
    )
    op.create_table(
        "campaign_parts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("agent_campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("uploaded_through", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'uploading', 'started', 'completed', 'moved', 'cancelled')",
            name=op.f("ck_campaign_parts_state"),
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_campaign_parts_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_parts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_parts")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_campaign_parts_idempotency_key")),
    )
    with op.batch_alter_table("campaign_parts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaign_parts_agent_id_agent_campaign_id"),
            ["agent_id", "agent_campaign_id"],
            unique=False,
        )

    op.create_table(
        "campaign_timeline",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("minute", mailfleet.desktop.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_timeline_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "minute", "kind", name=op.f("pk_campaign_timeline")),
    )
    op.create_table(
        "campaign_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("deferrals", sa.Integer(), nullable=False),
        sa.Column("opened", sa.Boolean(), nullable=False),
        sa.Column("clicked", sa.Boolean(), nullable=False),
        sa.Column("complained", sa.Boolean(), nullable=False),
        sa.Column("unsubscribed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_recipients_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["part_id"],
            ["campaign_parts.id"],
            name=op.f("fk_campaign_recipients_part_id_campaign_parts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_recipients")),
    )
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaign_recipients_campaign_id_status"),
            ["campaign_id", "status"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_campaign_recipients_part_id_email"), ["part_id", "email"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_campaign_recipients_part_id_id"), ["part_id", "id"], unique=False
        )


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_recipients_part_id_id"))
        batch_op.drop_index(batch_op.f("ix_campaign_recipients_part_id_email"))
        batch_op.drop_index(batch_op.f("ix_campaign_recipients_campaign_id_status"))

    op.drop_table("campaign_recipients")
    op.drop_table("campaign_timeline")
    with op.batch_alter_table("campaign_parts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_parts_agent_id_agent_campaign_id"))

    op.drop_table("campaign_parts")
    op.drop_table("templates")
    op.drop_table("campaigns")
    op.drop_table("agents")
