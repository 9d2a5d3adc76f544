"""Agents' events applied to the desktop database, exactly once, by cursor.

Each agent's events carry an increasing ``seq``. A batch is applied in one transaction that
also moves the agent's ``event_cursor`` past it, with the agent's row locked (``FOR UPDATE`` on
PostgreSQL, the single writer on SQLite): two desktops sharing a team database, or a restart
after a crash, never apply an event twice or skip one. Closing the app simply leaves the cursor
where it was; the next start reads on from it.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, and_, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from mailfleet.desktop.db.mailbox import mailbox_key
from mailfleet.desktop.db.models import (
    Agent,
    CampaignPart,
    CampaignRecipient,
    CampaignTimeline,
    Contact,
    EngagementEvent,
    EngagementKind,
    PartState,
    RecipientStatus,
    SuppressionReason,
)
from mailfleet.desktop.services import campaigns, cursors, lists, suppression
from mailfleet.v1 import events_pb2

E = events_pb2.EventType
# Feedback from recipients and their providers (the agent's feedback loop).
COMPLAINED = E.EVENT_TYPE_MESSAGE_COMPLAINED
UNSUBSCRIBED = E.EVENT_TYPE_MESSAGE_UNSUBSCRIBED
OPENED = E.EVENT_TYPE_MESSAGE_OPENED
CLICKED = E.EVENT_TYPE_MESSAGE_CLICKED

_MESSAGE_STATUS = {
    E.EVENT_TYPE_MESSAGE_DELIVERED: RecipientStatus.DELIVERED,
    E.EVENT_TYPE_MESSAGE_DEFERRED: RecipientStatus.DEFERRED,
    E.EVENT_TYPE_MESSAGE_BOUNCED: RecipientStatus.BOUNCED,
    E.EVENT_TYPE_MESSAGE_FAILED: RecipientStatus.FAILED,
    E.EVENT_TYPE_MESSAGE_SUPPRESSED: RecipientStatus.SUPPRESSED,
    E.EVENT_TYPE_MESSAGE_CANCELLED: RecipientStatus.CANCELLED,
}
_FLAG = {
    COMPLAINED: "complained",
    UNSUBSCRIBED: "unsubscribed",
    OPENED: "opened",
    CLICKED: "clicked",
}
_SUPPRESS = {
    E.EVENT_TYPE_MESSAGE_BOUNCED: SuppressionReason.BOUNCED,
    COMPLAINED: SuppressionReason.COMPLAINED,
    UNSUBSCRIBED: SuppressionReason.UNSUBSCRIBED,
}
# A capture route reports its deliveries from this host: the mail stayed on the agent.
CAPTURE_HOST = "capture"
# The attribute of a message an operator ended by hand (the agent's queue tools): a decision
# about waiting mail, not evidence that the address is bad, so it suppresses nothing.
BY_OPERATOR = ("by", "operator")
# Event attributes that say why a message failed or bounced, best first: the receiving
# server's own words before the agent's classification code.
_REASON_ATTRS = ("reason", "reply", "bounce_reason")
REASON_LENGTH = 200
# The scope of an unsubscribe that leaves one list: its campaign tag.
LIST_SCOPE = campaigns.LIST_TAG


def _status(event: events_pb2.Event) -> RecipientStatus:
    status = _MESSAGE_STATUS[event.type]
    if status is RecipientStatus.DELIVERED and event.attrs.get("host") == CAPTURE_HOST:
        return RecipientStatus.CAPTURED
    return status


def _left_list(event: events_pb2.Event) -> int | None:
    """The desktop list a preference-center unsubscribe left (scope ``list:<list_id>``), or
    None for an unsubscribe from everything."""
    scope = event.attrs.get("scope", "")
    if event.type != UNSUBSCRIBED or not scope.startswith(LIST_SCOPE):
        return None
    list_id = scope.removeprefix(LIST_SCOPE)
    return int(list_id) if list_id.isdigit() else 0


def _by_operator(event: events_pb2.Event) -> bool:
    key, value = BY_OPERATOR
    return event.attrs.get(key) == value


def _reason(event: events_pb2.Event) -> str | None:
    if event.type not in (E.EVENT_TYPE_MESSAGE_FAILED, E.EVENT_TYPE_MESSAGE_BOUNCED):
        return None
    found = next((event.attrs[a] for a in _REASON_ATTRS if event.attrs.get(a)), "")
    return found[:REASON_LENGTH] or None


# What the chart counts over time, by event type.
TIMELINE_KIND = {
    E.EVENT_TYPE_MESSAGE_DELIVERED: "delivered",
    E.EVENT_TYPE_MESSAGE_DEFERRED: "deferred",
    E.EVENT_TYPE_MESSAGE_BOUNCED: "bounced",
    E.EVENT_TYPE_MESSAGE_FAILED: "failed",
    COMPLAINED: "complained",
    UNSUBSCRIBED: "unsubscribed",
    OPENED: "opened",
    CLICKED: "clicked",
}


@dataclass
class Applied:
    """What one batch changed: how many events were new and which campaigns they touched."""

    events: int = 0
    cursor: int = 0
    campaigns: set[int] = field(default_factory=set)


def _minute(event: events_pb2.Event) -> datetime:
    seconds = event.time.seconds if event.HasField("time") else int(datetime.now(UTC).timestamp())
    return datetime.fromtimestamp(seconds - seconds % 60, UTC)


def _parts(conn: Connection, agent_id: int) -> dict[int, tuple[int, int]]:
    """The agent's campaign ids → (part id, desktop campaign id)."""
    rows = conn.execute(
        select(CampaignPart.agent_campaign_id, CampaignPart.id, CampaignPart.campaign_id).where(
            CampaignPart.agent_id == agent_id, CampaignPart.agent_campaign_id.is_not(None)
        )
    )
    return {int(acid): (pid, cid) for acid, pid, cid in rows if acid is not None}


def apply_events(
    engine: Engine,
    workspace_id: int,
    agent_id: int,
    events: Sequence[events_pb2.Event],
    next_cursor: int = 0,
) -> Applied:
    """Apply the events after the agent's cursor and move the cursor to ``next_cursor`` (or the
    last event's seq); events at or below the cursor are skipped, so replays change nothing."""
    with engine.begin() as conn:
        cursor, fresh, target = cursors.claim(
            conn, Agent.event_cursor, workspace_id, agent_id, events, next_cursor
        )
        applied = Applied(len(fresh), target)
        if fresh:
            _apply(conn, workspace_id, agent_id, fresh, applied)
        cursors.move(conn, Agent.event_cursor, agent_id, cursor, target)
        return applied


def _apply(
    conn: Connection,
    workspace_id: int,
    agent_id: int,
    events: Sequence[events_pb2.Event],
    applied: Applied,
) -> None:
    parts = _parts(conn, agent_id)
    statuses: list[dict[str, object]] = []
    deferrals: Counter[tuple[int, str]] = Counter()
    flags: dict[str, list[dict[str, object]]] = {}
    timeline: Counter[tuple[int, datetime, str]] = Counter()
    completed: list[int] = []
    for event in events:
        part = parts.get(event.campaign_id) if event.campaign_id else None
        kind = event.type
        if part is not None:
            part_id, campaign_id = part
            applied.campaigns.add(campaign_id)
            status = _status(event) if kind in _MESSAGE_STATUS else None
            if kind in TIMELINE_KIND:
                charted = "captured" if status is RecipientStatus.CAPTURED else TIMELINE_KIND[kind]
                timeline[(campaign_id, _minute(event), charted)] += 1
            if status is not None:
                statuses.append(
                    {"p": part_id, "e": event.email, "s": status.value, "r": _reason(event)}
                )
                if kind == E.EVENT_TYPE_MESSAGE_DEFERRED:
                    deferrals[(part_id, event.email)] += 1
            elif kind in _FLAG:
                flags.setdefault(_FLAG[kind], []).append({"p": part_id, "e": event.email})
            elif kind == E.EVENT_TYPE_CAMPAIGN_COMPLETED:
                completed.append(part_id)
        left = _left_list(event)
        if left is not None:
            if left and event.email:
                lists.leave(conn, workspace_id, left, event.email)
        elif kind in _SUPPRESS and event.email and not _by_operator(event):
            # An address the agent accepted but the desktop cannot parse: nothing to suppress.
            with contextlib.suppress(ValueError):
                suppression.add(
                    conn,
                    workspace_id,
                    event.email,
                    _SUPPRESS[kind],
                    source=f"agent {agent_id} event {event.seq}",
                )
        if kind in (OPENED, CLICKED) and event.email:
            _engagement(conn, workspace_id, event, part[1] if part else 0)
    match = and_(
        CampaignRecipient.part_id == bindparam("p"), CampaignRecipient.email == bindparam("e")
    )
    if statuses:
        conn.execute(
            update(CampaignRecipient)
            .where(match)
            .values(status=bindparam("s"), reason=bindparam("r")),
            statuses,
        )
    if deferrals:
        conn.execute(
            update(CampaignRecipient)
            .where(match)
            .values(deferrals=CampaignRecipient.deferrals + bindparam("n")),
            [{"p": p, "e": e, "n": n} for (p, e), n in deferrals.items()],
        )
    for column, rows in flags.items():
        conn.execute(update(CampaignRecipient).where(match).values({column: True}), rows)
    if timeline:
        _add_timeline(conn, timeline)
    if completed:
        complete_parts(conn, completed)


def _engagement(
    conn: Connection, workspace_id: int, event: events_pb2.Event, campaign_id: int
) -> None:
    contact_id = conn.scalar(
        select(Contact.id).where(
            Contact.workspace_id == workspace_id, Contact.email_key == mailbox_key(event.email)
        )
    )
    if contact_id is None:
        return
    kind = EngagementKind.OPENED if event.type == OPENED else EngagementKind.CLICKED
    seconds = event.time.seconds if event.HasField("time") else datetime.now(UTC).timestamp()
    conn.execute(
        insert(EngagementEvent).values(
            workspace_id=workspace_id,
            contact_id=contact_id,
            campaign_id=campaign_id,
            kind=kind.value,
            occurred_at=datetime.fromtimestamp(seconds, UTC),
        )
    )


def _add_timeline(conn: Connection, counts: Counter[tuple[int, datetime, str]]) -> None:
    rows = [
        {"campaign_id": c, "minute": m, "kind": k, "count": n} for (c, m, k), n in counts.items()
    ]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(CampaignTimeline)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["campaign_id", "minute", "kind"],
            set_={"count": CampaignTimeline.count + statement.excluded.count},
        ),
        rows,
    )


def complete_parts(conn: Connection, part_ids: list[int]) -> None:
    """Mark parts completed (their agent finished them, whatever it was asked meanwhile), and
    settle their campaigns' states. A part still *uploading* here was started by the upload,
    which has not recorded it yet: a small campaign can finish first."""
    finishing = [PartState.UPLOADING.value, *(s.value for s in campaigns.ON_AGENT)]
    conn.execute(
        update(CampaignPart)
        .where(CampaignPart.id.in_(part_ids), CampaignPart.state.in_(finishing))
        .values(state=PartState.COMPLETED.value)
    )
    campaign_ids = conn.scalars(
        select(CampaignPart.campaign_id).where(CampaignPart.id.in_(part_ids)).distinct()
    ).all()
    for campaign_id in campaign_ids:
        campaigns.settle(conn, campaign_id)
