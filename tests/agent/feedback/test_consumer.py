"""The coordinator's consumer of the intake's inbound_mail rows, on a real store: each row's
effects and its deletion are one transaction."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
import time
from pathlib import Path

from mailfleet.agent.feedback.consumer import InboundConsumer
from mailfleet.agent.feedback.settings import FeedbackSettings
from mailfleet.agent.feedback.tokens import Purpose, Subject, TokenKey
from mailfleet.agent.model import CampaignSpec, Content, MessageState, RecipientRows, Sender
from mailfleet.agent.store import campaigns, suppression
from mailfleet.agent.store import feedback as stats
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.tenants import create_tenant

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "bounces"


def _setup(conn: sqlite3.Connection) -> Subject:
    tenant = create_tenant(conn, "one")
    spec = CampaignSpec("News", Sender("news@shop.example"), Content("Hi", text="x"), "c1")
    cid = campaigns.create(conn, tenant.id, spec).id
    rows = RecipientRows([0], [("ann@example.com", "ann@example.com", "")])
    campaigns.add_recipients(conn, tenant.id, cid, (), rows, rows.document())
    conn.execute("UPDATE messages SET state = ?", (int(MessageState.DELIVERED),))
    (mid,) = conn.execute("SELECT id FROM messages").fetchone()
    return Subject(tenant.id, cid, mid)


def _store_inbound(conn: sqlite3.Connection, rcpt_to: str, data: bytes) -> None:
    conn.execute(
        "INSERT INTO inbound_mail (received_at, peer, mail_from, rcpt_to, data)"
        " VALUES (?, '127.0.0.1', '', ?, ?)",
        (time.time(), rcpt_to, data),
    )


async def test_rows_are_processed_in_order_and_deleted_with_their_effects(tmp_path: Path) -> None:
    store = Store(tmp_path / "agent.db")
    store.open()
    key = TokenKey(os.urandom(32))
    try:
        ann = await store.write(_setup)
        verp = f"b-{key.make(Purpose.BOUNCE, ann)}@bounce.shop.example"
        dsn = (SAMPLES / "gmail-user-unknown.eml").read_bytes()
        consumer = InboundConsumer(store, key, FeedbackSettings())
        running = asyncio.create_task(consumer.run())
        for address in (verp, f"b-{'0' * 30}@bounce.shop.example"):
            await store.write(functools.partial(_store_inbound, rcpt_to=address, data=dsn))

        async def drained() -> None:
            while consumer.processed < 2:  # each batch is a commit
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(store.commits.ticket().wait(), 0.5)

        await asyncio.wait_for(drained(), 10)
        consumer.stop()
        await asyncio.wait_for(running, 10)

        def check(conn: sqlite3.Connection) -> tuple[int, list[str], dict[str, int]]:
            left = conn.execute("SELECT count(*) FROM inbound_mail").fetchone()[0]
            entries = suppression.lookup(conn, ann.tenant_id, ["ann@example.com"])
            reasons = [e.reason.name.lower() for e in entries.get("ann@example.com", [])]
            return int(left), reasons, stats.inbound_counts(conn)

        assert await store.read(check) == (0, ["hard_bounce"], {"bounce": 1, "forged": 1})
    finally:
        store.close()
