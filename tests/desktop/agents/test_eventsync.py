"""Applying agent events to the desktop database: every kind, exactly once, on both databases."""

from __future__ import annotations

from sqlalchemy import Engine, func, insert, select, update

from mailfleet.desktop.agents import eventsync
from mailfleet.desktop.db.models import (
    Agent,
    CampaignPart,
    CampaignRecipient,
    CampaignTimeline,
    Contact,
    EngagementEvent,
    ListMembership,
    Suppression,
)
from mailfleet.desktop.services import campaigns, stats
from mailfleet.desktop.services.campaigns import Audience, Draft
from mailfleet.v1 import events_pb2
from tests.desktop.fleetkit import seed_contacts

E = events_pb2.EventType
REMOTE_ID = 41


def event(seq: int, kind: int, email: str, campaign: int = REMOTE_ID) -> events_pb2.Event:
    e = events_pb2.Event(seq=seq, type=kind, campaign_id=campaign, email=email)  # type: ignore[arg-type]
    e.time.FromSeconds(1_790_000_000 + seq * 30)
    return e


def setup(engine: Engine, workspace: int) -> tuple[int, int]:
    list_id = seed_contacts(engine, workspace, 6)
    with engine.begin() as conn:
        agent_id = conn.scalar(
            insert(Agent).values(workspace_id=workspace, name="a", host="127.0.0.1", port=1,
                                 fingerprint="0" * 64, key_ref="k", event_cursor=0)
            .returning(Agent.id)
        )  # fmt: skip
    assert agent_id is not None
    draft = Draft(name="C", audience=Audience(lists=(list_id,)), subject="s", text="t",
                  from_address="news@shop.example.com", agents=((agent_id, 1),))  # fmt: skip
    campaign_id = campaigns.create(engine, workspace, draft)
    with engine.begin() as conn:
        conn.execute(update(CampaignPart).values(agent_campaign_id=REMOTE_ID, state="started"))
    return agent_id, campaign_id


def test_every_event_kind_lands_once_and_a_replay_changes_nothing(
    engine: Engine, workspace: int
) -> None:
    agent_id, campaign_id = setup(engine, workspace)
    events = [
        event(1, E.EVENT_TYPE_CAMPAIGN_STARTED, ""),
        event(2, E.EVENT_TYPE_MESSAGE_DEFERRED, "user0@example.com"),
        event(3, E.EVENT_TYPE_MESSAGE_DELIVERED, "user0@example.com"),
        event(4, E.EVENT_TYPE_MESSAGE_DELIVERED, "user1@example.com"),
        event(5, E.EVENT_TYPE_MESSAGE_BOUNCED, "user2@example.com"),
        event(6, E.EVENT_TYPE_MESSAGE_DELIVERED, "user3@example.com"),
        event(7, E.EVENT_TYPE_MESSAGE_OPENED, "user0@example.com"),
        event(8, E.EVENT_TYPE_MESSAGE_CLICKED, "user0@example.com"),
        event(9, E.EVENT_TYPE_MESSAGE_COMPLAINED, "user1@example.com"),
        event(10, E.EVENT_TYPE_MESSAGE_UNSUBSCRIBED, "user3@example.com"),
        # Another client's campaign on the same agent: only its bounce's suppression applies.
        event(11, E.EVENT_TYPE_MESSAGE_DELIVERED, "user4@example.com", campaign=999),
        event(12, E.EVENT_TYPE_MESSAGE_BOUNCED, "user5@example.com", campaign=999),
    ]
    first = eventsync.apply_events(engine, workspace, agent_id, events[:6])
    second = eventsync.apply_events(engine, workspace, agent_id, events, next_cursor=15)
    assert (first.events, second.events, second.cursor) == (6, 6, 15)
    assert second.campaigns == {campaign_id}
    replay = eventsync.apply_events(engine, workspace, agent_id, events)
    assert replay.events == 0

    with engine.connect() as conn:
        figures = stats.totals(conn, workspace, campaign_id)
        status = dict(conn.execute(select(Contact.email, Contact.status)).all())
        suppressed = dict(conn.execute(select(Suppression.email, Suppression.reason)).all())
        engaged = conn.execute(select(EngagementEvent.kind, EngagementEvent.campaign_id)).all()
        deferrals = conn.scalar(select(func.sum(CampaignRecipient.deferrals)))
        charted = dict(conn.execute(
            select(CampaignTimeline.kind, func.sum(CampaignTimeline.count))
            .group_by(CampaignTimeline.kind)).all())  # fmt: skip
        cursor = conn.scalar(select(Agent.event_cursor))
    assert (figures.delivered, figures.bounced, figures.queued) == (3, 1, 2)
    assert (figures.opened, figures.clicked, figures.complained, figures.unsubscribed) == (
        1, 1, 1, 1)  # fmt: skip
    assert deferrals == 1 and cursor == 15
    assert suppressed == {
        "user2@example.com": "bounced",
        "user1@example.com": "complained",
        "user3@example.com": "unsubscribed",
        "user5@example.com": "bounced",
    }
    assert status["user1@example.com"] == "complained"
    assert status["user3@example.com"] == "unsubscribed"
    assert status["user0@example.com"] == "subscribed"
    assert sorted(engaged) == [("clicked", campaign_id), ("opened", campaign_id)]
    assert charted == {"deferred": 1, "delivered": 3, "bounced": 1, "opened": 1, "clicked": 1,
                       "complained": 1, "unsubscribed": 1}  # fmt: skip
    with engine.connect() as conn:
        (gmail,) = [d for d in stats.per_domain(conn, workspace, campaign_id)]
    assert gmail.complaint_rate == 1 / 3 and gmail.over_complaint_line


def test_a_bounce_by_an_operator_marks_the_recipient_but_suppresses_nothing(
    engine: Engine, workspace: int
) -> None:
    agent_id, campaign_id = setup(engine, workspace)
    by_hand = event(1, E.EVENT_TYPE_MESSAGE_BOUNCED, "user0@example.com")
    by_hand.attrs.update({"reply": "destination retired", "by": "operator"})
    eventsync.apply_events(
        engine,
        workspace,
        agent_id,
        [by_hand, event(2, E.EVENT_TYPE_MESSAGE_BOUNCED, "user1@example.com")],
    )
    with engine.connect() as conn:
        suppressed = conn.scalars(select(Suppression.email)).all()
        reasons = dict(
            conn.execute(select(CampaignRecipient.email, CampaignRecipient.reason)).all()
        )
        figures = stats.totals(conn, workspace, campaign_id)
    assert suppressed == ["user1@example.com"]
    assert reasons["user0@example.com"] == "destination retired"
    assert figures.bounced == 2


def test_a_preference_center_unsubscribe_leaves_only_its_list(
    engine: Engine, workspace: int
) -> None:
    agent_id, _campaign_id = setup(engine, workspace)
    with engine.connect() as conn:
        (list_id,) = conn.scalars(select(ListMembership.list_id).distinct()).all()
    left = event(1, E.EVENT_TYPE_MESSAGE_UNSUBSCRIBED, "user0@example.com")
    left.attrs["scope"] = f"list:{list_id}"
    everything = event(2, E.EVENT_TYPE_MESSAGE_UNSUBSCRIBED, "user1@example.com")
    eventsync.apply_events(engine, workspace, agent_id, [left, everything])
    with engine.connect() as conn:
        on_list = set(
            conn.scalars(
                select(Contact.email)
                .join(ListMembership, ListMembership.contact_id == Contact.id)
                .where(ListMembership.list_id == list_id)
            )
        )
        statuses = {e: st for e, st in conn.execute(select(Contact.email, Contact.status))}
        suppressed = set(conn.scalars(select(Suppression.email)))
    assert "user0@example.com" not in on_list and "user1@example.com" in on_list
    assert statuses["user0@example.com"] == "subscribed"  # only that list was left
    assert suppressed == {"user1@example.com"}
