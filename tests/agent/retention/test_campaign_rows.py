"""Retention of campaign messages: final rows of ended campaigns are deleted, their counts kept."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailfleet.agent.model import CampaignState, MessageState
from mailfleet.agent.store import campaigns, messages, tenants
from mailfleet.agent.store.db import open_and_migrate
from mailfleet.agent.store.retention import prune_campaign_messages
from mailfleet.v1 import agent_pb2, campaigns_pb2, messages_pb2
from tests.agent.builders import batches, campaign_request, recipients, relay_config, wait_until
from tests.peers.agent import AgentProcess
from tests.peers.smtp import SmtpSink, refuse

DAY = 86400.0
NOW = 1_800_000_000.0
_ADDRESSES = itertools.count()


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    c = open_and_migrate(tmp_path / "agent.db")
    with c:
        c.execute("BEGIN")
        tenants.create_tenant(c, "default")
    yield c
    c.close()


def _campaign(conn: sqlite3.Connection, cid: int, state: CampaignState) -> None:
    conn.execute(
        "INSERT INTO campaigns (id, tenant_id, idempotency_key, name, state, spec,"
        " throttle_per_minute, created_at, updated_at) VALUES (?, 1, ?, 'c', ?, '{}', 0, 0, 0)",
        (cid, f"k{cid}", int(state)),
    )


def _message(conn: sqlite3.Connection, cid: int, state: MessageState, age_days: float) -> int:
    stamp = NOW - age_days * DAY
    cur = conn.execute(
        "INSERT INTO messages (tenant_id, campaign_id, lane, state, email, email_norm,"
        " created_at, updated_at) VALUES (1, ?, 2, ?, ?, ?, ?, ?)",
        (cid, int(state), *[f"a{next(_ADDRESSES)}@x.test"] * 2, stamp, stamp),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def _walk(conn: sqlite3.Connection, before: float, limit: int) -> tuple[int, int]:
    """Walk the whole table as the pruner does; (batches, rows deleted)."""
    after, steps, deleted = 0, 0, 0
    while True:
        with conn:
            conn.execute("BEGIN")
            after, n = prune_campaign_messages(conn, after, before, limit)
        steps, deleted = steps + 1, deleted + n
        if after == 0:
            return steps, deleted


def test_old_final_rows_of_ended_campaigns_go_and_their_counts_stay(
    conn: sqlite3.Connection,
) -> None:
    with conn:
        conn.execute("BEGIN")
        _campaign(conn, 1, CampaignState.COMPLETED)
        _campaign(conn, 2, CampaignState.RUNNING)
        _campaign(conn, 3, CampaignState.CANCELLED)
        for state in (MessageState.DELIVERED,) * 3 + (MessageState.BOUNCED, MessageState.FAILED):
            _message(conn, 1, state, 40)
        running_old = _message(conn, 2, MessageState.DELIVERED, 40)
        queued_old = _message(conn, 2, MessageState.QUEUED, 40)
        _message(conn, 3, MessageState.CANCELLED, 35)
        recent = [_message(conn, 1, MessageState.DELIVERED, 1) for _ in range(6)]
    before = {cid: campaigns.counts(conn, cid) for cid in (1, 2, 3)}
    tenant_before = messages.tenant_counts(conn, 1)

    steps, deleted = _walk(conn, NOW - 30 * DAY, 2)
    assert deleted == 6
    assert steps == 5  # it ended at the first young row (the 10th), not at the end of the table
    left = {r[0] for r in conn.execute("SELECT id FROM messages")}
    assert left == {running_old, queued_old, *recent}
    assert {cid: campaigns.counts(conn, cid) for cid in (1, 2, 3)} == before
    assert messages.tenant_counts(conn, 1) == tenant_before
    # Totals are kept per day of the final state: days 40 and 35 ago.
    days = {r[0] for r in conn.execute("SELECT DISTINCT day FROM message_totals")}
    assert days == {int((NOW - 40 * DAY) // DAY), int((NOW - 35 * DAY) // DAY)}
    assert _walk(conn, NOW - 30 * DAY, 2)[1] == 0  # a second pass finds nothing more


def test_a_real_agent_deletes_an_ended_campaigns_rows_and_answers_the_same_counts(
    tmp_path: Path,
) -> None:
    with SmtpSink() as sink:
        for i in range(0, 30, 3):
            sink.rule(f"user{i}@example.com", refuse("550 5.1.1 No such user"))
        # Final rows older than 10 s go, checked every half second.
        config = (
            relay_config(sink) + "[retention]\nmessages_days = 0.000116\ninterval_seconds = 0.5\n"
        )
        agent = AgentProcess(tmp_path / "agent", extra_config=config)
        agent.start()
        try:
            stubs = agent.stubs()
            c = stubs.campaigns.CreateCampaign(campaign_request("kept"))
            stubs.campaigns.UploadRecipients(batches(c.id, recipients(30)))
            waiting = stubs.campaigns.CreateCampaign(campaign_request("waiting"))
            stubs.campaigns.UploadRecipients(batches(waiting.id, recipients(5)))
            ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
            stubs.campaigns.StartCampaign(ref)
            final = list(stubs.campaigns.WatchCampaign(ref, timeout=60))[-1]
            assert final.state == campaigns_pb2.CampaignState.CAMPAIGN_STATE_COMPLETED

            def rows(cid: int) -> int:
                listed = stubs.messages.ListMessages(
                    messages_pb2.ListMessagesRequest(campaign_id=cid, limit=100)
                )
                return len(listed.messages)

            counted = stubs.campaigns.GetCampaign(ref).counts
            queue = stubs.info.GetInfo(agent_pb2.GetInfoRequest()).queue
            assert rows(c.id) == 30  # read before retention deleted any
            assert (counted.delivered, counted.bounced, counted.total) == (20, 10, 30)

            wait_until(lambda: rows(c.id) == 0, 60, "the campaign's rows to be deleted")
            assert stubs.campaigns.GetCampaign(ref).counts == counted
            assert stubs.info.GetInfo(agent_pb2.GetInfoRequest()).queue == queue
            listed = stubs.campaigns.ListCampaigns(campaigns_pb2.ListCampaignsRequest())
            assert {x.id: x.counts for x in listed.campaigns}[c.id] == counted
            assert rows(waiting.id) == 5  # a campaign that has not ended keeps its rows
            assert "retention pruned" in agent.log()
        finally:
            agent.close()
