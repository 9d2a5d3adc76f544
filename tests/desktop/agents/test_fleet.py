"""Campaigns across real agents: split by weight, delivered into sinks, synced exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from mailfleet.desktop.agents import eventsync, fleet, registry, upload
from mailfleet.desktop.db.models import CampaignPart, CampaignRecipient, CampaignTimeline, PartState
from mailfleet.desktop.services import campaigns
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.v1 import campaigns_pb2, events_pb2
from tests.agent.builders import relay_config, wait_until
from tests.desktop.fleetkit import AgentFactory, draft, follow_all, pair, seed_contacts, totals
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.smtp import SmtpSink, accept, defer


@pytest.fixture
def sinks() -> Iterator[tuple[SmtpSink, SmtpSink]]:
    with SmtpSink() as one, SmtpSink() as two:
        yield one, two


def test_a_campaign_split_across_two_agents_is_delivered_once_and_counted_exactly(
    sqlite_engine: Engine,
    agent_factory: AgentFactory,
    sinks: tuple[SmtpSink, SmtpSink],
    secure_keyring: FileKeyring,
) -> None:
    engine = sqlite_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    list_id = seed_contacts(
        engine, ws, 90, domains=("a.example.com", "b.example.com", "c.example.com")
    )
    first = pair(engine, ws, agent_factory(relay_config(sinks[0])), "one")
    second = pair(engine, ws, agent_factory(relay_config(sinks[1])), "two")
    campaign_id = campaigns.create(engine, ws, draft(list_id, ((first.id, 2), (second.id, 1))))
    with engine.connect() as conn:
        split = dict(
            conn.execute(
                select(CampaignPart.agent_id, func.count())
                .join(CampaignRecipient)
                .group_by(CampaignPart.agent_id)
            ).all()
        )
    assert split == {first.id: 60, second.id: 30}

    upload.upload_campaign(engine, ws, campaign_id)
    followers = follow_all(engine, ws, [first, second])
    try:
        sinks[0].wait_for(60, timeout=60)
        sinks[1].wait_for(30, timeout=60)
        wait_until(lambda: totals(engine, ws, campaign_id).delivered == 90, 30, "90 delivered")
        wait_until(lambda: _state(engine, ws, campaign_id) == "completed", 30, "completion")
    finally:
        for f in followers:
            f.stop()
    assert sinks[0].duplicates() == [] and sinks[1].duplicates() == []
    seen = {r for s in sinks for m in s.received for r in m.rcpt_to}
    assert len(seen) == 90
    figures = totals(engine, ws, campaign_id)
    assert (figures.recipients, figures.queued, figures.delivered) == (90, 0, 90)
    with engine.connect() as conn:
        charted = conn.scalar(
            select(func.sum(CampaignTimeline.count)).where(CampaignTimeline.kind == "delivered")
        )
        assert charted == 90


def _state(engine: Engine, ws: int, campaign_id: int) -> str:
    with engine.connect() as conn:
        return campaigns.get(conn, ws, campaign_id).state


def test_a_restart_mid_campaign_catches_up_exactly(
    engine: Engine,
    agent_factory: AgentFactory,
    sinks: tuple[SmtpSink, SmtpSink],
    secure_keyring: FileKeyring,
) -> None:
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    list_id = seed_contacts(engine, ws, 40)
    proc = agent_factory(relay_config(sinks[0]))
    record = pair(engine, ws, proc, "one")
    # 120 a minute: the campaign takes ~20 s, so the "app" closes while it sends.
    campaign_id = campaigns.create(
        engine, ws, draft(list_id, ((record.id, 1),), throttle_per_minute=120)
    )
    upload.upload_campaign(engine, ws, campaign_id)
    (follower,) = follow_all(engine, ws, [record])
    wait_until(lambda: totals(engine, ws, campaign_id).delivered >= 3, 60, "a first delivery")
    follower.stop()  # the desktop closes
    seen_before = totals(engine, ws, campaign_id).delivered
    assert seen_before < 40
    sinks[0].wait_for(40, timeout=90)  # the agent goes on alone
    assert totals(engine, ws, campaign_id).delivered == seen_before

    # Reopened: the events since the cursor are applied once, and a replay changes nothing.
    with engine.connect() as conn:
        fresh = registry.get_agent(conn, ws, record.id)
    (follower,) = follow_all(engine, ws, [fresh])
    try:
        # The agent logs the campaign's completion after its last delivery: wait for both.
        wait_until(
            lambda: (
                totals(engine, ws, campaign_id).delivered == 40
                and _state(engine, ws, campaign_id) == "completed"
            ),
            30,
            "catch-up",
        )
    finally:
        follower.stop()
    stubs = proc.stubs()
    everything = stubs.events.ListEvents(events_pb2.ListEventsRequest(after_seq=0, limit=10000))
    replay = eventsync.apply_events(engine, ws, record.id, everything.events)
    assert replay.events == 0
    figures = totals(engine, ws, campaign_id)
    assert (figures.delivered, figures.queued, figures.deferred) == (40, 0, 0)
    assert sinks[0].count == 40 and sinks[0].duplicates() == []
    with engine.connect() as conn:
        charted = conn.scalar(
            select(func.sum(CampaignTimeline.count)).where(CampaignTimeline.kind == "delivered")
        )
    assert charted == 40


def test_an_unreachable_agents_unsent_recipients_move_without_duplicates(
    sqlite_engine: Engine,
    agent_factory: AgentFactory,
    sinks: tuple[SmtpSink, SmtpSink],
    secure_keyring: FileKeyring,
    tmp_path: Path,
) -> None:
    engine = sqlite_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    list_id = seed_contacts(engine, ws, 40)
    healthy_proc = agent_factory(relay_config(sinks[0]))
    failing_proc = agent_factory(relay_config(sinks[1], "retry_base_seconds = 600"))
    healthy = pair(engine, ws, healthy_proc, "healthy")
    failing = pair(engine, ws, failing_proc, "failing")
    campaign_id = campaigns.create(engine, ws, draft(list_id, ((healthy.id, 1), (failing.id, 1))))
    with engine.connect() as conn:
        theirs = sorted(
            conn.scalars(
                select(CampaignRecipient.email)
                .join(CampaignPart)
                .where(CampaignPart.agent_id == failing.id)
            ).all()
        )
    # The failing agent's destination takes 3 of its 20 and defers the rest.
    for email in theirs[3:]:
        sinks[1].rule(email, defer())
    upload.upload_campaign(engine, ws, campaign_id)
    followers = follow_all(engine, ws, [healthy, failing])
    try:
        wait_until(lambda: totals(engine, ws, campaign_id).delivered == 23, 60, "23 delivered")
        wait_until(lambda: totals(engine, ws, campaign_id).deferred == 17, 60, "17 deferred")
        failing_proc.kill()  # unreachable from now on
        assert fleet.unsent_on(engine, campaign_id, failing.id) == 17
        moved = fleet.move_unsent(engine, ws, campaign_id, failing.id, ((healthy.id, 1),))
        assert moved == 17
        upload.upload_campaign(engine, ws, campaign_id)
        sinks[0].wait_for(37, timeout=60)
        wait_until(lambda: totals(engine, ws, campaign_id).delivered == 40, 30, "40 delivered")
        # The failing agent comes back: its part is cancelled before it can send anything.
        for email in theirs[3:]:
            sinks[1].rule(email, accept())
        failing_proc.start()
        wait_until(
            lambda: _part_state(engine, failing.id) == PartState.CANCELLED,
            60,
            "the moved part cancelled",
        )
    finally:
        for f in followers:
            f.stop()
    with engine.connect() as conn:
        remote_id = conn.scalar(
            select(CampaignPart.agent_campaign_id).where(CampaignPart.agent_id == failing.id)
        )
    remote = failing_proc.stubs().campaigns.GetCampaign(
        campaigns_pb2.CampaignRef(campaign_id=remote_id or 0)
    )
    assert remote.state == campaigns_pb2.CAMPAIGN_STATE_CANCELLED
    delivered = [r for s in sinks for m in s.received for r in m.rcpt_to]
    assert len(delivered) == 40 and len(set(delivered)) == 40
    assert sinks[1].count == 3
    assert totals(engine, ws, campaign_id).delivered == 40


def _part_state(engine: Engine, agent_id: int) -> PartState:
    with engine.connect() as conn:
        state = conn.scalar(select(CampaignPart.state).where(CampaignPart.agent_id == agent_id))
    return PartState(state or "")


def test_an_upload_cut_off_mid_way_resumes_without_duplicates(
    sqlite_engine: Engine,
    agent_factory: AgentFactory,
    sinks: tuple[SmtpSink, SmtpSink],
    secure_keyring: FileKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = sqlite_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    list_id = seed_contacts(engine, ws, 50)
    proc = agent_factory(relay_config(sinks[0]))
    record = pair(engine, ws, proc, "one")
    campaign_id = campaigns.create(engine, ws, draft(list_id, ((record.id, 1),)))
    monkeypatch.setattr(upload, "CHUNK", 20)  # small chunks, so 50 recipients take three
    stop = threading.Event()
    seen: list[upload.Progress] = []

    def progress(p: upload.Progress) -> None:
        seen.append(p)
        stop.set()  # the app closes after the first confirmed chunk

    with pytest.raises(upload.UploadCancelled):
        upload.upload_campaign(engine, ws, campaign_id, progress, stop)
    with engine.connect() as conn:
        (part,) = campaigns.parts(conn, campaign_id)
        assert campaigns.get(conn, ws, campaign_id).state == "uploading"
    assert seen[0].done == 20 and part.uploaded_through > 0 and part.agent_campaign_id
    # A crash before the chunk's confirmation was recorded: the resumed upload sends it again,
    # the agent's campaign (found again by its idempotency key) refuses the repeats.
    with engine.begin() as conn:
        conn.execute(update(CampaignPart).values(uploaded_through=0))
    upload.upload_campaign(engine, ws, campaign_id, seen.append)
    assert seen[-1].total == 50
    stubs = proc.stubs()
    remote = stubs.campaigns.ListCampaigns(campaigns_pb2.ListCampaignsRequest())
    assert len(remote.campaigns) == 1 and remote.campaigns[0].counts.total == 50
    sinks[0].wait_for(50, timeout=60)
    assert sinks[0].duplicates() == [] and sinks[0].count == 50
    with engine.connect() as conn:
        assert campaigns.get(conn, ws, campaign_id).state == "sending"
