"""Domain objects to and from their ``mailfleet.v1`` messages."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from mailfleet.agent.model import (
    AbTest,
    Campaign,
    CampaignState,
    Event,
    MessageState,
    StoredMessage,
)
from mailfleet.v1 import campaigns_pb2, common_pb2, events_pb2, messages_pb2


def timestamp(seconds: float) -> Timestamp:
    """A protobuf Timestamp for a Unix time."""
    ts = Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def state_counts(counts: dict[MessageState, int]) -> common_pb2.StateCounts:
    """Counts by state, with their total."""
    return common_pb2.StateCounts(
        queued=counts[MessageState.QUEUED],
        in_flight=counts[MessageState.IN_FLIGHT],
        delivered=counts[MessageState.DELIVERED],
        deferred=counts[MessageState.DEFERRED],
        bounced=counts[MessageState.BOUNCED],
        suppressed=counts[MessageState.SUPPRESSED],
        failed=counts[MessageState.FAILED],
        cancelled=counts[MessageState.CANCELLED],
        total=sum(counts.values()),
    )


def campaign(c: Campaign, now: float) -> campaigns_pb2.Campaign:
    """A campaign as clients see it; a started campaign whose start time is ahead is SCHEDULED."""
    spec = c.spec
    state = c.state
    if state == CampaignState.RUNNING and spec.start_at is not None and spec.start_at > now:
        state = CampaignState.SCHEDULED
    msg = campaigns_pb2.Campaign(
        id=c.id,
        name=spec.name,
        state=campaigns_pb2.CampaignState.ValueType(int(state)),
        sender=common_pb2.Sender(
            from_name=spec.sender.from_name,
            from_address=spec.sender.from_address,
            reply_to=spec.sender.reply_to,
        ),
        content=common_pb2.Content(
            subject=spec.content.subject,
            html=spec.content.html,
            text=spec.content.text,
            headers=spec.content.headers,
        ),
        tags=list(spec.tags),
        throttle_per_minute=spec.throttle_per_minute,
        tracking=common_pb2.Tracking(opens=spec.tracking.opens, clicks=spec.tracking.clicks),
        idempotency_key=spec.idempotency_key,
        created_at=timestamp(c.created_at),
        updated_at=timestamp(c.updated_at),
        counts=state_counts(c.counts),
    )
    if spec.start_at is not None:
        msg.start_at.CopyFrom(timestamp(spec.start_at))
    if spec.ab_test is not None:
        msg.ab_test.CopyFrom(ab_test(spec.ab_test))
    if (window := spec.send_window) is not None:
        msg.send_window.CopyFrom(
            campaigns_pb2.SendWindow(
                weekdays=window.weekdays,
                start_minute=window.start_minute,
                end_minute=window.end_minute,
                time_zone=window.time_zone,
            )
        )
    return msg


def ab_test(test: AbTest) -> campaigns_pb2.AbTest:
    """The A/B test as created."""
    return campaigns_pb2.AbTest(
        variants=[
            campaigns_pb2.AbVariant(
                subject=v.subject, from_name=v.from_name, html=v.html, text=v.text
            )
            for v in test.variants
        ],
        test_percent=test.test_percent,
        rule=campaigns_pb2.AbWinnerRule.ValueType(int(test.rule)),
        wait_hours=test.wait_hours,
    )


def message(m: StoredMessage) -> messages_pb2.Message:
    """A stored message as clients see it."""
    msg = messages_pb2.Message(
        id=m.id,
        campaign_id=m.campaign_id or 0,
        lane=messages_pb2.Lane.ValueType(int(m.lane)),
        email=m.email,
        state=messages_pb2.MessageState.ValueType(int(m.state)),
        attempts=m.attempts,
        created_at=timestamp(m.created_at),
        updated_at=timestamp(m.updated_at),
        last_reply=m.last_reply,
        idempotency_key=m.idempotency_key,
    )
    if m.next_at is not None:
        msg.next_attempt_at.CopyFrom(timestamp(m.next_at))
    return msg


def event(e: Event) -> events_pb2.Event:
    """An events-log entry as clients see it."""
    return events_pb2.Event(
        seq=e.seq,
        time=timestamp(e.time),
        type=events_pb2.EventType.ValueType(int(e.type)),
        campaign_id=e.campaign_id or 0,
        message_id=e.message_id or 0,
        email=e.email,
        attrs=e.attrs,
    )
