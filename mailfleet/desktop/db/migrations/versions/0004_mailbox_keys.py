"""one contact per mailbox: contacts and suppressions get an address key; duplicates merge

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

``user@free.fr`` and ``USER@FREE.FR`` used to be two contacts, both mailed. Each contact and
suppression entry now carries ``email_key`` (``mailfleet.desktop.db.mailbox``); contacts that share
a key merge into the oldest one, which keeps its spelling and gains the others' lists, custom
values, engagement history and campaign recipients.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

import mailfleet.desktop.db.types
from mailfleet.desktop.db.mailbox import mailbox_key

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# A merged contact's status: any refusal outranks a subscription, a complaint outranks the rest.
_STATUS_RANK = {"subscribed": 0, "unsubscribed": 1, "bounced": 2, "complained": 3}
_STEP = 10_000

_contact_rows = sa.table(
    "contacts",
    sa.column("id", sa.Integer()),
    sa.column("email", sa.String()),
    sa.column("email_key", sa.String()),
    sa.column("first_name", sa.String()),
    sa.column("last_name", sa.String()),
    sa.column("status", sa.String()),
    sa.column("consent_source", sa.String()),
    sa.column("consent_at", mailfleet.desktop.db.types.UTCDateTime()),
    sa.column("fields", sa.JSON()),
    sa.column("created_at", mailfleet.desktop.db.types.UTCDateTime()),
    sa.column("updated_at", mailfleet.desktop.db.types.UTCDateTime()),
)


def _contacts(with_key_nullable: bool) -> sa.Table:
    """The contacts table as revision 0001 created it, plus ``email_key``."""
    return sa.Table(
        "contacts",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=False),
        sa.Column("last_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("consent_source", sa.String(length=200), nullable=True),
        sa.Column("consent_at", mailfleet.desktop.db.types.UTCDateTime(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_at", mailfleet.desktop.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", mailfleet.desktop.db.types.UTCDateTime(), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=with_key_nullable),
        sa.CheckConstraint(
            "status IN ('subscribed', 'unsubscribed', 'bounced', 'complained')",
            name="ck_contacts_status",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name="fk_contacts_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        sa.UniqueConstraint("workspace_id", "email", name="uq_contacts_workspace_id_email"),
        sa.Index("ix_contacts_workspace_id_status", "workspace_id", "status"),
    )


def _fill_keys(conn: sa.Connection, table: str) -> None:
    """Set ``email_key`` on every row with an address: in SQL for ASCII addresses (whose key is
    the lower-cased address), in Python for the few others."""
    if conn.dialect.name == "sqlite":
        non_ascii = "length(CAST(email AS BLOB)) != length(email)"
    else:
        non_ascii = "octet_length(email) != length(email)"
    conn.exec_driver_sql(
        f"UPDATE {table} SET email_key = lower(email) WHERE email IS NOT NULL AND NOT ({non_ascii})"
    )
    rows = conn.execute(
        sa.text(f"SELECT id, email FROM {table} WHERE email IS NOT NULL AND {non_ascii}")
    ).all()
    statement = sa.text(f"UPDATE {table} SET email_key = :k WHERE id = :i")
    for start in range(0, len(rows), _STEP):
        chunk = rows[start : start + _STEP]
        conn.execute(statement, [{"k": mailbox_key(email), "i": rid} for rid, email in chunk])


def _merged(keep: Any, other: Any) -> dict[str, Any]:
    """The surviving contact's values once ``other`` is merged into it (``keep`` wins where
    both have a value)."""
    status = max(keep.status, other.status, key=lambda s: _STATUS_RANK.get(s, 0))
    consents = [row for row in (keep, other) if row.consent_at is not None]
    consent = min(consents, key=lambda row: row.consent_at) if consents else keep
    return {
        "first_name": keep.first_name or other.first_name,
        "last_name": keep.last_name or other.last_name,
        "status": status,
        "consent_source": consent.consent_source,
        "consent_at": consent.consent_at,
        "fields": {**(other.fields or {}), **(keep.fields or {})},
        "created_at": min(keep.created_at, other.created_at),
        "updated_at": max(keep.updated_at, other.updated_at),
    }


def _merge(conn: sa.Connection, keep_id: int, other_id: int) -> None:
    """Move everything of contact ``other_id`` to ``keep_id``, then delete it."""
    columns = [c for c in _contact_rows.c if c.name not in ("email", "email_key")]
    keep, other = (
        conn.execute(sa.select(*columns).where(_contact_rows.c.id == cid)).one()
        for cid in (keep_id, other_id)
    )
    conn.execute(
        sa.update(_contact_rows).where(_contact_rows.c.id == keep_id).values(_merged(keep, other))
    )
    ids = {"keep": keep_id, "other": other_id}
    conn.execute(
        sa.text(
            "INSERT INTO list_members (contact_id, list_id, added_at) "
            "SELECT :keep, list_id, added_at FROM list_members WHERE contact_id = :other "
            "AND list_id NOT IN (SELECT list_id FROM list_members WHERE contact_id = :keep)"
        ),
        ids,
    )
    conn.execute(sa.text("DELETE FROM list_members WHERE contact_id = :other"), ids)
    for table in ("engagement_events", "campaign_recipients"):
        conn.execute(
            sa.text(f"UPDATE {table} SET contact_id = :keep WHERE contact_id = :other"), ids
        )
    conn.execute(sa.text("DELETE FROM contacts WHERE id = :other"), ids)


def _merge_duplicates(conn: sa.Connection) -> None:
    pairs = conn.execute(
        sa.text(
            "SELECT d.keep_id, c.id FROM contacts c JOIN ("
            "SELECT workspace_id, email_key, min(id) AS keep_id FROM contacts "
            "GROUP BY workspace_id, email_key HAVING count(*) > 1"
            ") d ON c.workspace_id = d.workspace_id AND c.email_key = d.email_key "
            "WHERE c.id != d.keep_id ORDER BY c.id"
        )
    ).all()
    for keep_id, other_id in pairs:
        _merge(conn, keep_id, other_id)


def upgrade() -> None:
    """Apply this migration."""
    conn = op.get_bind()
    op.add_column("contacts", sa.Column("email_key", sa.String(length=320), nullable=True))
    op.add_column("suppressions", sa.Column("email_key", sa.String(length=320), nullable=True))
    _fill_keys(conn, "contacts")
    _fill_keys(conn, "suppressions")
    _merge_duplicates(conn)
    with op.batch_alter_table("contacts", copy_from=_contacts(with_key_nullable=True)) as batch:
        batch.alter_column("email_key", existing_type=sa.String(length=320), nullable=False)
        batch.drop_constraint("uq_contacts_workspace_id_email", type_="unique")
        batch.create_unique_constraint(
            "uq_contacts_workspace_id_email_key", ["workspace_id", "email_key"]
        )
    op.create_index(
        "ix_suppressions_workspace_id_email_key", "suppressions", ["workspace_id", "email_key"]
    )


def downgrade() -> None:
    """Revert this migration (merged contacts stay merged)."""
    op.drop_index("ix_suppressions_workspace_id_email_key", table_name="suppressions")
    with op.batch_alter_table("contacts", copy_from=_contacts(with_key_nullable=False)) as batch:
        batch.drop_constraint("uq_contacts_workspace_id_email_key", type_="unique")
        batch.create_unique_constraint("uq_contacts_workspace_id_email", ["workspace_id", "email"])
        batch.drop_column("email_key")
    with op.batch_alter_table("suppressions", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("email_key")
