"""campaign and part states for commands an agent has not acknowledged yet

A cancel (pause, resume) is recorded at once; a part whose agent could not be reached keeps
the command (``cancelling``, ``pausing``, ``resuming``) until the agent is back and takes it,
and a campaign is ``cancelling`` until every part acknowledged its cancel.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_CAMPAIGN = ("draft", "uploading", "sending", "paused", "completed", "cancelled")
_PART = ("pending", "uploading", "started", "completed", "moved", "cancelled")


def _values(states: tuple[str, ...]) -> str:
    return "state IN (" + ", ".join(f"'{s}'" for s in states) + ")"


def _replace_check(table: str, states: tuple[str, ...]) -> None:
    # SQLite cannot alter a CHECK constraint: batch mode rebuilds the table with the new one.
    with op.batch_alter_table(table, recreate="auto") as batch:
        batch.drop_constraint(op.f(f"ck_{table}_state"), type_="check")
        batch.create_check_constraint(op.f(f"ck_{table}_state"), _values(states))


def upgrade() -> None:
    """Allow the new states."""
    _replace_check("campaigns", (*_CAMPAIGN[:5], "cancelling", "cancelled"))
    _replace_check("campaign_parts", (*_PART, "cancelling", "pausing", "resuming", "paused"))


def downgrade() -> None:
    """Back to the old states; commands still waiting are taken as done."""
    op.execute("UPDATE campaigns SET state = 'cancelled' WHERE state = 'cancelling'")
    op.execute(
        "UPDATE campaign_parts SET state = CASE state WHEN 'cancelling' THEN 'cancelled' "
        "ELSE 'started' END WHERE state IN ('cancelling', 'pausing', 'resuming', 'paused')"
    )
    _replace_check("campaigns", _CAMPAIGN)
    _replace_check("campaign_parts", _PART)
