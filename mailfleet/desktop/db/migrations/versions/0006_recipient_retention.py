"""recipient retention: totals of pruned recipients; one unsent recipient per mailbox

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

Finished campaigns' per-recipient rows are folded into ``campaign_recipient_totals`` once they
are older than the workspace's ``recipient_retention_days`` (``services.retention``); the
campaign records when that began in ``details_pruned_at``. Engagement events get an index on
their campaign, so they can be deleted a campaign at a time.

Campaigns saved before revision 0004 may hold two recipient rows for one mailbox (case
variants that 0004 merged into one contact, so both rows now name that contact). An unfinished
upload of such a campaign would send both: of a contact's rows in an unfinished campaign, the
unsent (pending) ones go, except one when none of them has reached an agent yet.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import sqlalchemy as sa
from alembic import op

import mailfleet.desktop.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_UNFINISHED = ("draft", "uploading", "sending", "paused")
_STEP = 10_000


def _duplicate_rows(conn: sa.Connection) -> list[tuple[int, int, int, str]]:
    """(id, campaign, contact, status) of every row whose contact has several rows in one
    unfinished campaign (rows handed to another agent's part excepted), in id order."""
    unfinished = ", ".join(f"'{s}'" for s in _UNFINISHED)
    return [
        (int(i), int(c), int(k), str(s))
        for i, c, k, s in conn.execute(
            sa.text(
                "SELECT r.id, r.campaign_id, r.contact_id, r.status FROM campaign_recipients r "
                "JOIN (SELECT campaign_id, contact_id FROM campaign_recipients "
                f"WHERE campaign_id IN (SELECT id FROM campaigns WHERE state IN ({unfinished})) "
                "AND contact_id IS NOT NULL AND status != 'moved' "
                "GROUP BY campaign_id, contact_id HAVING count(*) > 1) d "
                "ON d.campaign_id = r.campaign_id AND d.contact_id = r.contact_id "
                "WHERE r.status != 'moved' ORDER BY r.id"
            )
        )
    ]


def _unsent_duplicates(rows: list[tuple[int, int, int, str]]) -> tuple[list[int], Counter[int]]:
    """The pending rows to delete, and how many per campaign: a mailbox keeps the row that
    reached an agent if one did, else its first row."""
    groups: dict[tuple[int, int], list[tuple[int, str]]] = defaultdict(list)
    for rid, campaign_id, contact_id, status in rows:
        groups[(campaign_id, contact_id)].append((rid, status))
    doomed: list[int] = []
    per_campaign: Counter[int] = Counter()
    for (campaign_id, _contact), members in groups.items():
        sent = [rid for rid, status in members if status != "pending"]
        keep = sent[0] if sent else members[0][0]
        extra = [rid for rid, status in members if status == "pending" and rid != keep]
        doomed.extend(extra)
        per_campaign[campaign_id] += len(extra)
    return doomed, per_campaign


def _dedupe_unsent(conn: sa.Connection) -> None:
    doomed, per_campaign = _unsent_duplicates(_duplicate_rows(conn))
    for start in range(0, len(doomed), _STEP):
        chunk = doomed[start : start + _STEP]
        conn.execute(
            sa.text("DELETE FROM campaign_recipients WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": chunk},
        )
    counts = [{"n": n, "c": c} for c, n in per_campaign.items() if n]
    if counts:
        conn.execute(
            sa.text("UPDATE campaigns SET recipients = recipients - :n WHERE id = :c"), counts
        )


def upgrade() -> None:
    """Apply this migration."""
    op.add_column(
        "workspaces",
        sa.Column("recipient_retention_days", sa.Integer(), nullable=False, server_default="90"),
    )
    op.add_column(
        "campaigns",
        sa.Column("details_pruned_at", mailfleet.desktop.db.types.UTCDateTime(), nullable=True),
    )
    op.create_table(
        "campaign_recipient_totals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("deferred", sa.Integer(), nullable=False),
        sa.Column("complained", sa.Integer(), nullable=False),
        sa.Column("unsubscribed", sa.Integer(), nullable=False),
        sa.Column("opened", sa.Integer(), nullable=False),
        sa.Column("clicked", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_recipient_totals_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_recipient_totals")),
        sa.UniqueConstraint(
            "campaign_id",
            "domain",
            "status",
            "reason",
            name=op.f("uq_campaign_recipient_totals_campaign_id_domain_status_reason"),
        ),
    )
    op.create_index(op.f("ix_engagement_events_campaign_id"), "engagement_events", ["campaign_id"])
    _dedupe_unsent(op.get_bind())


def downgrade() -> None:
    """Revert this migration (pruned recipients stay pruned, deduplicated rows stay gone)."""
    op.drop_index(op.f("ix_engagement_events_campaign_id"), table_name="engagement_events")
    op.drop_table("campaign_recipient_totals")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("details_pruned_at")
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("recipient_retention_days")
