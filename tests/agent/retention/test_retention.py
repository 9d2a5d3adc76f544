"""Retention: what is pruned and what is kept, and a cursor older than the window."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import time
from pathlib import Path

import grpc
import pytest

from mailfleet.agent.model import EventType, MessageState
from mailfleet.agent.store import events, tenants
from mailfleet.agent.store.db import open_and_migrate
from mailfleet.agent.store.retention import (
    events_pruned_through,
    prune_capture,
    prune_events,
    prune_transactional,
    sweep_bodies,
)
from mailfleet.v1 import events_pb2, signups_pb2
from tests.agent.builders import transactional, wait_until
from tests.agent.signup.helpers import changes, form_definition
from tests.peers.agent import AgentProcess

DAY = 86400.0
NOW = 1_800_000_000.0


def _message(
    conn: sqlite3.Connection, state: MessageState, age_days: float, campaign: int | None = None
) -> int:
    spec = {"sender": {}, "content": {"subject": "Order 1", "html": "<p>secret</p>"}}
    content = conn.execute(
        "INSERT INTO contents (spec, raw_mime) VALUES (?, ?)", (json.dumps(spec), b"raw")
    ).lastrowid
    stamp = NOW - age_days * DAY
    cur = conn.execute(
        "INSERT INTO messages (tenant_id, campaign_id, content_id, lane, state, email,"
        " email_norm, payload, created_at, updated_at) VALUES (1, ?, ?, ?, ?, 'a@x.test',"
        " 'a@x.test', ?, ?, ?)",
        (
            campaign,
            None if campaign else content,
            2 if campaign else 1,
            int(state),
            base64.b64encode(b"fields").decode(),
            stamp,
            stamp,
        ),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def test_pruning_keeps_the_window_and_what_is_still_to_be_sent(tmp_path: Path) -> None:
    conn = open_and_migrate(tmp_path / "agent.db")
    with conn:
        conn.execute("BEGIN")
        tenants.create_tenant(conn, "default")
        conn.execute(
            "INSERT INTO campaigns (id, tenant_id, idempotency_key, name, state, spec,"
            " throttle_per_minute, created_at, updated_at)"
            " VALUES (1, 1, 'k', 'c', 5, '{}', 0, 0, 0)"
        )
        old_sent = _message(conn, MessageState.DELIVERED, 40)
        old_queued = _message(conn, MessageState.QUEUED, 40)
        recent_sent = _message(conn, MessageState.DELIVERED, 1)
        old_campaign = _message(conn, MessageState.BOUNCED, 10, campaign=1)
        for age in (40, 31, 29, 1):
            seq = events.append(conn, 1, EventType.MESSAGE_DELIVERED)
            conn.execute("UPDATE events SET time = ? WHERE seq = ?", (NOW - age * DAY, seq))
            conn.execute(
                "INSERT INTO captured (tenant_id, message_id, time, mail_from, rcpt_to, data)"
                " VALUES (1, 1, ?, 'f@x', 't@x', x'00')",
                (NOW - age * DAY,),
            )

    with conn:
        conn.execute("BEGIN")
        assert prune_events(conn, NOW - 30 * DAY, 1) == 1  # batches are bounded
        assert prune_events(conn, NOW - 30 * DAY, 100) == 1
        assert prune_events(conn, NOW - 30 * DAY, 100) == 0
        assert events_pruned_through(conn) == 2
        assert prune_capture(conn, NOW - 7 * DAY, 100) == 3
        assert sweep_bodies(conn, 0, NOW - 7 * DAY, 100) == (0, 2)  # one batch, end of table
        assert prune_transactional(conn, NOW - 30 * DAY, 100) == 1

    ids = {r[0]: r[1] for r in conn.execute("SELECT id, payload FROM messages")}
    assert old_sent not in ids
    assert ids[old_queued] is not None and ids[recent_sent] is not None  # kept as they were
    assert ids[old_campaign] is None  # the campaign's row stays for its counts; its data goes
    assert [r[0] for r in conn.execute("SELECT count(*) FROM events")] == [2]
    assert [r[0] for r in conn.execute("SELECT count(*) FROM captured")] == [1]
    assert conn.execute("SELECT count(*) FROM contents").fetchone()[0] == 3
    conn.close()


def test_an_event_cursor_older_than_retention_is_out_of_range(tmp_path: Path) -> None:
    agent = AgentProcess(
        tmp_path / "agent",
        extra_config="[retention]\nevents_days = 0.00003\ninterval_seconds = 0.5\n",
    )
    agent.start()
    try:
        stubs = agent.stubs()
        for i in range(3):
            stubs.transactional.SendMessage(transactional(f"old-{i}", f"old{i}@example.com"))

        def pruned() -> int:
            """The seq retention has pruned through, as the agent tells a cursor before it (0:
            nothing yet). Asked of the agent rather than read off the oldest kept event: on a
            quick machine every event may be pruned before the test looks, leaving none."""
            try:
                stubs.events.ListEvents(events_pb2.ListEventsRequest(after_seq=1))
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.OUT_OF_RANGE:
                    raise
                found = re.search(r"after_seq=(\d+)", exc.details() or "")
                assert found, exc.details()
                return int(found.group(1))
            return 0

        wait_until(lambda: pruned() > 1, 30, "old events to be pruned")
        horizon = pruned()
        # Delivery goes on while pruning runs.
        for i in range(3):
            stubs.transactional.SendMessage(transactional(f"new-{i}", f"new{i}@example.com"))
        with pytest.raises(grpc.RpcError) as listed:
            stubs.events.ListEvents(events_pb2.ListEventsRequest(after_seq=1))
        assert listed.value.code() == grpc.StatusCode.OUT_OF_RANGE
        assert "pruned" in (listed.value.details() or "")
        with pytest.raises(grpc.RpcError) as watched:
            next(iter(stubs.events.WatchEvents(events_pb2.WatchEventsRequest(after_seq=1))))
        assert watched.value.code() == grpc.StatusCode.OUT_OF_RANGE
        # From the horizon (or 0) a client continues without gaps.
        stubs.events.ListEvents(events_pb2.ListEventsRequest(after_seq=horizon))
        deadline = time.monotonic() + 30
        delivered: set[str] = set()
        while len(delivered) < 3 and time.monotonic() < deadline:
            delivered = {
                e.email
                for e in stubs.events.ListEvents(events_pb2.ListEventsRequest(after_seq=0)).events
                if e.type == events_pb2.EVENT_TYPE_MESSAGE_DELIVERED and e.email.startswith("new")
            }
            time.sleep(0.1)
        assert len(delivered) == 3
        assert "retention pruned" in agent.log()
    finally:
        agent.close()


def test_an_agent_deletes_signups_nobody_confirmed_and_keeps_the_confirmed(
    tmp_path: Path,
) -> None:
    agent = AgentProcess(
        tmp_path / "agent",
        extra_config=(
            "[signup]\nconfirm_hours = 0.0003\n"  # about a second
            "[retention]\nunconfirmed_signups_days = 0.00002\ninterval_seconds = 0.5\n"
        ),
    )
    agent.start()
    try:
        stubs = agent.stubs()
        stubs.signups.PutForm(signups_pb2.PutFormRequest(form=form_definition("shop-form")))

        def subscribe(key: str, address: str, skip: bool) -> signups_pb2.SubscribeResponse:
            request = signups_pb2.SubscribeRequest(
                idempotency_key=key,
                form_id="shop-form",
                email=address,
                ip="198.51.100.4",
                user_agent="shop checkout",
                skip_confirmation=skip,
            )
            request.fields["first_name"] = "Eva"
            return stubs.signups.Subscribe(request)

        pending = subscribe("order-1", "eva@shop.example", skip=False).signup.signup_id
        confirmed = subscribe("order-2", "finn@shop.example", skip=True).signup.signup_id

        def gone() -> bool:
            return pending not in {c.signup.signup_id for c in changes(stubs)}

        wait_until(gone, 60, "the unconfirmed signup to be deleted")
        left = changes(stubs)
        assert [c.signup.signup_id for c in left] == [confirmed]
        assert left[0].signup.consent.ip == "198.51.100.4"  # the proof stays
        # its idempotency key went with it: the same key signs the address up afresh
        again = subscribe("order-1", "eva@shop.example", skip=False)
        assert not again.duplicate and again.signup.signup_id != pending
        assert "expired signups" in agent.log()
    finally:
        agent.close()
