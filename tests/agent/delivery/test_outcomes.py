"""From a route's outcome to the next state: backoff, jitter, expiry (pure)."""

from __future__ import annotations

import random

import pytest

from mailfleet.agent.delivery.outcomes import retry_delay, settle
from mailfleet.agent.delivery.settings import DeliverySettings
from mailfleet.agent.model import EventType, MessageState
from mailfleet.agent.routes.base import Outcome, OutcomeKind
from mailfleet.agent.store.queue import Claimed

SETTINGS = DeliverySettings(retry_base_seconds=60, retry_max_seconds=3600, max_age_hours=72)
NOW = 1_800_000_000.0


def _claimed(attempts: int = 1, age: float = 0.0) -> Claimed:
    return Claimed(7, 1, 3, None, "a@example.com", b"", None, attempts, NOW - age)


@pytest.mark.parametrize(
    ("kind", "state", "event"),
    [
        (OutcomeKind.DELIVERED, MessageState.DELIVERED, EventType.MESSAGE_DELIVERED),
        (OutcomeKind.BOUNCED, MessageState.BOUNCED, EventType.MESSAGE_BOUNCED),
        (OutcomeKind.FAILED, MessageState.FAILED, EventType.MESSAGE_FAILED),
    ],
)
def test_final_outcomes_keep_the_reply(
    kind: OutcomeKind, state: MessageState, event: EventType
) -> None:
    outcome = Outcome(7, kind, "550 5.1.1 No such user", "mx1.example.com", "5.1.1")
    s = settle(_claimed(), outcome, NOW, SETTINGS, random.Random(1), mail_from="n@shop.example")
    assert (s.state, s.event, s.next_at) == (state, event, None)
    assert s.reply == "550 5.1.1 No such user" and s.host == "mx1.example.com"
    expected = {"reply": "550 5.1.1 No such user", "host": "mx1.example.com", "enhanced": "5.1.1"}
    if kind is OutcomeKind.BOUNCED:  # classified by its RFC 3463 code
        expected.update(bounce="hard", bounce_reason="user_unknown")
    assert s.attrs == expected
    assert s.mail_from == "n@shop.example"


def test_deferrals_back_off_exponentially_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(7)
    for attempts, nominal in [(1, 60), (2, 120), (3, 240), (7, 3600), (20, 3600)]:
        delays = [retry_delay(attempts, SETTINGS, rng) for _ in range(200)]
        assert all(0.8 * nominal <= d <= 1.2 * nominal for d in delays)
        assert max(delays) - min(delays) > 0.2 * nominal  # the jitter is really there


def test_a_deferral_is_retried_until_the_maximum_age_then_fails() -> None:
    deferred = Outcome(7, OutcomeKind.DEFERRED, "451 4.7.1 Try later", "mx1.example.com")
    early = settle(_claimed(attempts=2), deferred, NOW, SETTINGS, random.Random(3))
    assert early.state == MessageState.DEFERRED and early.event == EventType.MESSAGE_DEFERRED
    assert early.next_at is not None and NOW + 96 <= early.next_at <= NOW + 144
    # the last retry is never scheduled past the maximum age
    near_end = settle(
        _claimed(attempts=30, age=72 * 3600 - 10), deferred, NOW, SETTINGS, random.Random(3)
    )
    assert near_end.state == MessageState.DEFERRED
    assert near_end.next_at == pytest.approx(NOW + 10)
    expired = settle(
        _claimed(attempts=31, age=72 * 3600), deferred, NOW, SETTINGS, random.Random(3)
    )
    assert expired.state == MessageState.FAILED and expired.event == EventType.MESSAGE_FAILED
    assert "72 h" in expired.attrs["expired"]
