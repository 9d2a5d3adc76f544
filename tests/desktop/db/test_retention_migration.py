"""Revision 0006 on a campaign saved before 0004: case variants of one mailbox, merged into
one contact by 0004, leave one unsent recipient row, so an unfinished upload sends it once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, select, text

from mailfleet.desktop.db.engine import migrate
from mailfleet.desktop.db.models import Campaign, CampaignRecipient, Contact, Workspace
from tests.desktop.db.old_schema import engine_at

NOW = "2026-01-01 00:00:00"


@pytest.fixture(params=["sqlite", "postgresql"])
def old_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database migrated only up to revision 0003 (before mailbox keys)."""
    yield from engine_at(request, tmp_path, "0003")


def _insert(conn: Connection, table: str, **values: object) -> None:
    names = ", ".join(values)
    marks = ", ".join(f":{name}" for name in values)
    conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({marks})"), values)


def _campaign(conn: Connection, campaign_id: int, state: str, recipients: int) -> None:
    _insert(conn, "campaigns", id=campaign_id, workspace_id=1, name=f"c{campaign_id}",
            state=state, audience="{}", subject="s", html="", text="t", from_name="",
            from_address="n@x.org", reply_to="", throttle_per_minute=0, time_zone="UTC",
            key_prefix=f"k{campaign_id}", recipients=recipients, created_at=NOW)  # fmt: skip
    for part in (1, 2):
        _insert(conn, "campaign_parts", id=campaign_id * 10 + part, campaign_id=campaign_id,
                agent_id=1, weight=1, idempotency_key=f"k{campaign_id}-{part}",
                state="uploading", uploaded_through=0)  # fmt: skip


def _recipient(conn: Connection, campaign_id: int, part: int, contact: int, email: str,
               status: str) -> None:  # fmt: skip
    _insert(conn, "campaign_recipients", campaign_id=campaign_id,
            part_id=campaign_id * 10 + part, contact_id=contact, email=email,
            domain="free.fr", status=status, deferrals=0, opened=False, clicked=False,
            complained=False, unsubscribed=False)  # fmt: skip


def test_unsent_recipients_of_one_mailbox_keep_one_row(old_engine: Engine) -> None:
    with old_engine.begin() as conn:
        _insert(conn, "workspaces", id=1, name="W", hash_salt="s", created_at=NOW)
        _insert(conn, "agents", id=1, workspace_id=1, name="a", host="h", port=1,
                fingerprint="f", key_ref="k", event_cursor=0, created_at=NOW)  # fmt: skip
        for cid, email in ((1, "ann@free.fr"), (2, "ANN@free.fr"), (3, "bob@free.fr"),
                           (4, "Bob@free.fr"), (5, "cy@free.fr")):  # fmt: skip
            _insert(conn, "contacts", id=cid, workspace_id=1, email=email, first_name="",
                    last_name="", status="subscribed", fields="{}", created_at=NOW,
                    updated_at=NOW)  # fmt: skip
        # Saved before 0004: each spelling was its own contact, and each got a row.
        _campaign(conn, 1, "uploading", 5)
        _recipient(conn, 1, 1, 1, "ann@free.fr", "pending")
        _recipient(conn, 1, 2, 2, "ANN@free.fr", "pending")
        _recipient(conn, 1, 1, 3, "bob@free.fr", "pending")
        _recipient(conn, 1, 2, 4, "Bob@free.fr", "queued")  # already on its agent
        _recipient(conn, 1, 1, 5, "cy@free.fr", "pending")
        # A finished campaign is history: both deliveries happened and stay recorded.
        _campaign(conn, 2, "completed", 2)
        _recipient(conn, 2, 1, 1, "ann@free.fr", "delivered")
        _recipient(conn, 2, 2, 2, "ANN@free.fr", "delivered")

    migrate(old_engine)

    with old_engine.connect() as conn:
        assert conn.scalars(select(Contact.email).order_by(Contact.id)).all() == [
            "ann@free.fr", "bob@free.fr", "cy@free.fr"
        ]  # fmt: skip
        r = CampaignRecipient
        rows = conn.execute(
            select(r.campaign_id, r.email, r.status).order_by(r.campaign_id, r.id)
        ).all()
        assert [tuple(row) for row in rows] == [
            (1, "ann@free.fr", "pending"),  # the first of the two unsent rows
            (1, "Bob@free.fr", "queued"),  # the one the agent has; the unsent twin goes
            (1, "cy@free.fr", "pending"),
            (2, "ann@free.fr", "delivered"),
            (2, "ANN@free.fr", "delivered"),
        ]
        counts = conn.execute(select(Campaign.id, Campaign.recipients).order_by(Campaign.id))
        assert [tuple(c) for c in counts] == [(1, 3), (2, 2)]
        assert conn.scalar(select(Workspace.recipient_retention_days)) == 90
