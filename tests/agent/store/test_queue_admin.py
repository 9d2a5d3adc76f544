"""Queue tools on a real store file: what they select, what they change, what they leave alone."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

from mailfleet.agent.model import (
    CampaignSpec,
    CampaignState,
    Content,
    EventType,
    MessageState,
    RecipientRows,
    Sender,
    TransactionalMessage,
)
from mailfleet.agent.store import campaigns, events, messages, queue, queue_admin, suspensions
from mailfleet.agent.store.queue import Settled
from mailfleet.agent.store.queue_admin import Selection
from mailfleet.agent.store.suspensions import Holds, Kind, Suspension


def _campaign(conn: sqlite3.Connection, tenant_id: int, emails: Sequence[str]) -> int:
    spec = CampaignSpec("News", Sender("news@shop.example"), Content("Hi", text="Hello"), "key")
    cid = campaigns.create(conn, tenant_id, spec).id
    rows = RecipientRows(positions=list(range(len(emails))), rows=[(e, e, "") for e in emails])
    campaigns.add_recipients(conn, tenant_id, cid, (), rows, rows.document())
    return cid


def _transactional(conn: sqlite3.Connection, tenant_id: int, email: str) -> int:
    msg = TransactionalMessage(
        idempotency_key=f"receipt-{email}",
        sender=Sender("orders@shop.example"),
        email=email,
        email_norm=email,
        payload=b"",
        content=Content("Receipt", text="Thanks"),
        raw_mime=None,
    )
    return messages.enqueue_transactional(conn, tenant_id, msg)[0].id


def _defer_transactional(conn: sqlite3.Connection, now: float) -> list[int]:
    """Try every transactional message once; each is deferred for an hour."""
    claimed = queue.claim_transactional(conn, 100, now, now + 600)
    queue.settle(
        conn,
        [
            Settled(
                c, MessageState.DEFERRED, EventType.MESSAGE_DEFERRED, "451 later", "mx", now + 3600
            )
            for c in claimed
        ],
        now,
    )
    return [c.id for c in claimed]


def _states(conn: sqlite3.Connection, tenant_id: int, ids: Sequence[int]) -> list[MessageState]:
    return [messages.get(conn, tenant_id, i).state for i in ids]


def test_list_and_summary_select_by_tenant_domain_campaign_and_age(
    conn: sqlite3.Connection,
) -> None:
    cid = _campaign(conn, 1, ["a@one.example", "b@ONE.example", "c@two.example"])
    receipt = _transactional(conn, 1, "d@two.example")
    _transactional(conn, 2, "e@one.example")  # another tenant's
    now = time.time()

    mine = Selection(tenant_id=1)
    assert [m.email for m in queue_admin.list_waiting(conn, mine, now, 0, 100)] == [
        "a@one.example",
        "b@ONE.example",
        "c@two.example",
        "d@two.example",
    ]
    by_domain = Selection(tenant_id=1, domain="One.Example")
    assert len(queue_admin.list_waiting(conn, by_domain, now, 0, 100)) == 2
    of_campaign = Selection(tenant_id=1, campaign_id=cid)
    assert len(queue_admin.list_waiting(conn, of_campaign, now, 0, 100)) == 3
    only_transactional = Selection(tenant_id=1, transactional_only=True)
    assert [m.id for m in queue_admin.list_waiting(conn, only_transactional, now, 0, 100)] == [
        receipt
    ]
    # Nothing is an hour old yet; an hour later everything is.
    assert queue_admin.list_waiting(conn, Selection(1, min_age=3600), now, 0, 100) == []
    assert len(queue_admin.list_waiting(conn, Selection(1, min_age=3600), now + 3601, 0, 100)) == 4

    # Keyset paging walks the whole selection without repeats.
    first = queue_admin.list_waiting(conn, mine, now, 0, 3)
    rest = queue_admin.list_waiting(conn, mine, now, first[-1].id, 3)
    assert [m.email for m in rest] == ["d@two.example"]

    summary = queue_admin.summary(conn, mine, now)
    assert [(s.name, s.queued, s.deferred, s.in_flight) for s in summary.domains] == [
        ("one.example", 2, 0, 0),
        ("two.example", 2, 0, 0),
    ]
    assert [(s.name, s.queued) for s in summary.routes] == [("", 4)]  # none tried yet
    assert summary.total.total == 4
    everyone = queue_admin.summary(conn, Selection(tenant_id=None), now)
    assert [(s.name, s.queued) for s in everyone.domains] == [
        ("one.example", 3),
        ("two.example", 2),
    ]


def test_retry_now_makes_deferred_mail_due_in_batches(conn: sqlite3.Connection) -> None:
    ids = [_transactional(conn, 1, f"r{i}@slow.example") for i in range(5)]
    now = time.time()
    _defer_transactional(conn, now)
    assert queue.claim_deferred(conn, 100, now, now + 600) == []  # not due for an hour

    sel = Selection(tenant_id=1, domain="slow.example")
    assert queue_admin.retry_now(conn, sel, now, 2) == 2
    assert queue_admin.retry_now(conn, sel, now, 2) == 2
    assert queue_admin.retry_now(conn, sel, now, 2) == 1
    assert queue_admin.retry_now(conn, sel, now, 2) == 0
    assert sorted(c.id for c in queue.claim_deferred(conn, 100, now, now + 600)) == ids


def test_delete_and_bounce_end_waiting_mail_with_an_event_and_leave_mail_in_flight(
    conn: sqlite3.Connection,
) -> None:
    deferred = [_transactional(conn, 1, f"x{i}@gone.example") for i in range(3)]
    now = time.time()
    _defer_transactional(conn, now)
    flying = _transactional(conn, 1, "y@gone.example")
    queue.claim_transactional(conn, 100, now, now + 600)  # under way: its worker owns it
    others = _transactional(conn, 2, "z@gone.example")
    before = events.last_seq(conn)

    sel = Selection(tenant_id=1, domain="gone.example")
    assert queue_admin.delete(conn, Selection(1, ids=(deferred[0],)), now, 100) == 1
    assert queue_admin.bounce(conn, sel, "mailbox closed", now, 100) == 2
    assert queue_admin.bounce(conn, sel, "mailbox closed", now, 100) == 0

    assert _states(conn, 1, deferred) == [
        MessageState.CANCELLED,
        MessageState.BOUNCED,
        MessageState.BOUNCED,
    ]
    assert messages.get(conn, 1, deferred[1]).last_reply == "mailbox closed"
    assert _states(conn, 1, [flying]) == [MessageState.IN_FLIGHT]
    assert _states(conn, 2, [others]) == [MessageState.QUEUED]
    ended = events.list_after(conn, 1, before, 100)
    assert [(e.type, e.message_id) for e in ended] == [
        (EventType.MESSAGE_CANCELLED, deferred[0]),
        (EventType.MESSAGE_BOUNCED, deferred[1]),
        (EventType.MESSAGE_BOUNCED, deferred[2]),
    ]
    assert ended[1].attrs["reply"] == "mailbox closed"
    assert events.list_after(conn, 2, before, 100) == []


def test_the_route_of_the_last_try_is_kept_and_selects(conn: sqlite3.Connection) -> None:
    ids = [_transactional(conn, 1, f"r{i}@slow.example") for i in range(2)]
    now = time.time()
    claimed = queue.claim_transactional(conn, 100, now, now + 600)
    queue.settle(
        conn,
        [
            Settled(c, MessageState.DEFERRED, EventType.MESSAGE_DEFERRED, "451", "mx", now + 60,
                    route="relay" if c.id == ids[0] else "backup")
            for c in claimed
        ],
        now,
    )  # fmt: skip
    by_route = queue_admin.list_waiting(conn, Selection(1, route="relay"), now, 0, 100)
    assert [(m.id, m.route) for m in by_route] == [(ids[0], "relay")]
    summary = queue_admin.summary(conn, Selection(1), now)
    assert sorted((c.name, c.deferred) for c in summary.routes) == [("backup", 1), ("relay", 1)]


def test_claims_leave_the_mail_of_suspended_domains_and_routes(conn: sqlite3.Connection) -> None:
    cid = _campaign(conn, 1, ["a@held.example", "b@free.example"])
    conn.execute("UPDATE campaigns SET state = ?", (int(CampaignState.RUNNING),))
    mine = _transactional(conn, 1, "c@held.example")
    theirs = _transactional(conn, 2, "d@held.example")
    now = time.time()
    suspensions.suspend(
        conn, Suspension(1, Kind.DOMAIN, "held.example", "maintenance", now, until=now + 60)
    )
    suspensions.suspend(conn, Suspension(0, Kind.ROUTE, "relay", "", now, until=None))
    found = suspensions.in_force(conn, now)
    holds = Holds.of(found, now)
    assert [(s.kind, s.name) for s in found] == [
        (Kind.DOMAIN, "held.example"),
        (Kind.ROUTE, "relay"),
    ]
    assert suspensions.in_force(conn, now, tenant_ids=(2,)) == []
    assert suspensions.in_force(conn, now + 61) == [found[1]]  # the domain's lifted by itself

    # Tenant 1's mail to held.example stays queued; tenant 2's is not held.
    assert [c.id for c in queue.claim_transactional(conn, 100, now, now + 600, holds)] == [theirs]
    got = queue.claim_campaign(conn, cid, 100, now, now + 600, holds)
    assert [c.email for c in got] == ["b@free.example"]
    assert _states(conn, 1, [mine]) == [MessageState.QUEUED]

    # Deferred mail last held for the suspended route waits too, whoever's it is.
    queue.settle(
        conn,
        [Settled(c, MessageState.DEFERRED, EventType.MESSAGE_DEFERRED, "held", "", now,
                 route="relay") for c in got]
        + [Settled(c, MessageState.DEFERRED, EventType.MESSAGE_DEFERRED, "451", "", now,
                   route="other") for c in queue.claim_transactional(conn, 100, now, now + 1)],
        now,
    )  # fmt: skip
    assert queue.claim_deferred(conn, 100, now, now + 600, holds) == []
    assert suspensions.resume(conn, 0, Kind.ROUTE, "relay")
    assert not suspensions.resume(conn, 0, Kind.ROUTE, "relay")
    resumed = Holds.of(suspensions.in_force(conn, now), now)
    assert [c.email for c in queue.claim_deferred(conn, 100, now, now + 600, resumed)] == [
        "b@free.example"
    ]
