"""Connection pooling and limits, seen from the sink: reuse, concurrency, rate, idle, errors."""

from __future__ import annotations

import asyncio
import contextlib
import time

from mailfleet.agent.routes.base import OutcomeKind
from mailfleet.agent.routes.settings import DestinationLimits
from mailfleet.agent.routes.smtp_relay import SmtpRelay
from tests.agent.routes.conftest import SinkFactory, envelope, relay_settings
from tests.peers.smtp import stall


def limits(connections: int, per_connection: int, per_minute: int = 0) -> DestinationLimits:
    return DestinationLimits(
        connections=connections, messages_per_connection=per_connection, per_minute=per_minute
    )


async def test_connections_are_reused_up_to_messages_per_connection(
    make_sink: SinkFactory,
) -> None:
    sink = make_sink()
    route = SmtpRelay("relay", relay_settings(sink, limits=limits(1, 50)), helo="agent.test")
    outcomes = await route.deliver([envelope(i) for i in range(100)])
    await route.close()

    assert [o.kind for o in outcomes] == [OutcomeKind.DELIVERED] * 100
    assert sink.sessions == 2  # 100 messages, 50 per connection, one connection slot
    per_session: dict[int, int] = {}
    for r in sink.received:
        per_session[r.session] = per_session.get(r.session, 0) + 1
    assert sorted(per_session.values()) == [50, 50]
    assert sink.duplicates() == []


async def test_each_connection_slot_reuses_its_session(make_sink: SinkFactory) -> None:
    sink = make_sink()
    route = SmtpRelay("relay", relay_settings(sink, limits=limits(4, 50)), helo="agent.test")
    outcomes = await route.deliver([envelope(i) for i in range(400)])
    await route.close()

    assert len(outcomes) == 400 and {o.kind for o in outcomes} == {OutcomeKind.DELIVERED}
    assert len(sink.received) == 400 and sink.duplicates() == []
    # Lanes take messages as they go, so a lane's last session may be partly used; every
    # other session carries exactly messages_per_connection.
    per_session: dict[int, int] = {}
    for r in sink.received:
        per_session[r.session] = per_session.get(r.session, 0) + 1
    assert max(per_session.values()) == 50
    assert sum(1 for n in per_session.values() if n < 50) <= 4
    assert sink.max_concurrent == 4


async def test_idle_sessions_are_kept_between_batches(make_sink: SinkFactory) -> None:
    sink = make_sink()
    route = SmtpRelay("relay", relay_settings(sink, limits=limits(1, 100)), helo="agent.test")
    for start in range(0, 30, 10):
        await route.deliver([envelope(i) for i in range(start, start + 10)])
    await route.close()

    assert len(sink.received) == 30 and sink.sessions == 1


async def test_concurrent_connections_never_exceed_the_limit(make_sink: SinkFactory) -> None:
    sink = make_sink(reply_delay=0.01)  # slow replies keep every connection busy at once
    route = SmtpRelay("relay", relay_settings(sink, limits=limits(3, 1000)), helo="agent.test")
    # Two batches at once share one pool, so together they still get 3 connections.
    results = await asyncio.gather(
        route.deliver([envelope(i) for i in range(60)]),
        route.deliver([envelope(i) for i in range(60, 120)]),
    )
    await route.close()

    assert sum(len(r) for r in results) == 120
    assert len(sink.received) == 120
    assert sink.max_concurrent == 3


async def test_per_minute_limit_spaces_messages(make_sink: SinkFactory) -> None:
    sink = make_sink()
    # 600 "per minute" with a 1 s window: one message every 1/600 * 60 / 60 s = 0.1 s.
    settings = relay_settings(sink, limits=limits(4, 100, per_minute=10))
    route = SmtpRelay("relay", settings, helo="agent.test", rate_period=1.0)
    started = time.monotonic()
    await route.deliver([envelope(i) for i in range(11)])
    elapsed = time.monotonic() - started
    await route.close()

    arrivals = sorted(r.at for r in sink.received)
    assert len(arrivals) == 11
    # 10 per second: the 11th message cannot leave before a full second has passed.
    assert elapsed >= 0.95
    # ...and no window of one second ever holds more than 10 arrivals.
    assert all(arrivals[i + 10] - arrivals[i] >= 0.9 for i in range(len(arrivals) - 10))


async def test_idle_connections_are_closed(make_sink: SinkFactory) -> None:
    sink = make_sink()
    route = SmtpRelay("relay", relay_settings(sink), helo="agent.test", idle_seconds=0.2)
    await route.deliver([envelope(1)])
    assert sink.active == 1
    for _ in range(60):  # the reaper runs every idle_seconds / 4; allow up to 3 s
        if not sink.active:
            break
        await asyncio.sleep(0.05)
    assert sink.active == 0
    await route.deliver([envelope(2)])  # and a new connection is opened when needed
    await route.close()
    assert sink.sessions == 2 and len(sink.received) == 2


async def test_a_session_closed_by_the_server_is_replaced_without_losing_the_message(
    make_sink: SinkFactory,
) -> None:
    sink = make_sink()
    route = SmtpRelay("relay", relay_settings(sink, limits=limits(1, 100)), helo="agent.test")
    await route.deliver([envelope(1)])
    # The sink restarts on the same port: the pooled connection is now dead.
    sink.stop()
    sink.start()
    [outcome] = await route.deliver([envelope(2)])
    await route.close()

    assert outcome.kind is OutcomeKind.DELIVERED
    assert [r.rcpt_to[0] for r in sink.received] == ["user1@example.test", "user2@example.test"]
    assert sink.sessions == 2


async def test_a_timeout_reconnects_for_the_next_message(make_sink: SinkFactory) -> None:
    sink = make_sink()
    sink.rule("slow@example.test", stall(30))
    settings = relay_settings(sink, limits=limits(1, 100), timeout_seconds=0.5)
    route = SmtpRelay("relay", settings, helo="agent.test")
    outcomes = await route.deliver([envelope(1, "slow@example.test"), envelope(2), envelope(3)])
    await route.close()

    kinds = {o.message_id: o.kind for o in outcomes}
    assert kinds == {1: OutcomeKind.DEFERRED, 2: OutcomeKind.DELIVERED, 3: OutcomeKind.DELIVERED}
    assert sink.sessions == 2


async def test_a_rate_limit_opens_no_more_connections_than_it_can_use(
    make_sink: SinkFactory,
) -> None:
    sink = make_sink()
    # 3 messages per second: a fourth connection would only sit waiting for its turn.
    settings = relay_settings(sink, limits=limits(10, 100, per_minute=3))
    route = SmtpRelay("relay", settings, helo="agent.test", rate_period=1.0)
    outcomes = await route.deliver([envelope(i) for i in range(5)])
    await route.close()

    assert {o.kind for o in outcomes} == {OutcomeKind.DELIVERED}
    assert 1 <= sink.max_concurrent <= 3


async def test_a_cancelled_delivery_leaves_the_pool_usable(make_sink: SinkFactory) -> None:
    sink = make_sink()
    sink.rule("slow@example.test", stall(30, at="data"))
    route = SmtpRelay("relay", relay_settings(sink, limits=limits(1, 100)), helo="agent.test")
    stuck = asyncio.create_task(route.deliver([envelope(1, "slow@example.test")]))
    await asyncio.sleep(0.5)  # in the middle of DATA
    stuck.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await stuck
    # The only connection slot came back, and the half-done session was not reused (its next
    # MAIL FROM would have been refused as a nested transaction).
    [outcome] = await asyncio.wait_for(route.deliver([envelope(2)]), 5)
    await route.close()

    assert outcome.kind is OutcomeKind.DELIVERED
    assert [r.rcpt_to for r in sink.received] == [("user2@example.test",)]
