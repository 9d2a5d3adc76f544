"""Failover: a rule's second route takes over after its first has failed for long enough."""

from __future__ import annotations

from mailfleet.agent.routes.base import OutcomeKind
from mailfleet.agent.routes.smtp_relay import SmtpRelay
from mailfleet.agent.routing.failover import PROBE_SECONDS, Health, deliver_with_failover
from tests.agent.routes.conftest import SinkFactory, envelope, relay_settings
from tests.peers.smtp import SmtpSink, free_port, refuse


class Clock:
    """A hand-wound clock so the threshold is crossed without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def dead_relay(sink: SmtpSink) -> SmtpRelay:
    """A relay whose port refuses connections (nothing listens there)."""
    return SmtpRelay("primary", relay_settings(sink, port=free_port()), helo="agent.test")


async def test_failover_takes_over_only_after_the_threshold(make_sink: SinkFactory) -> None:
    backup_sink = make_sink()
    primary = dead_relay(backup_sink)
    backup = SmtpRelay("backup", relay_settings(backup_sink), helo="agent.test")
    clock = Clock()
    health = Health(clock)

    first = await deliver_with_failover(
        [envelope(1), envelope(2)], primary, backup, 60.0, health, "primary"
    )
    # Before the threshold the failures are plain deferrals: nothing went anywhere.
    assert {o.kind for o in first} == {OutcomeKind.DEFERRED}
    assert all(o.infrastructure and o.route == "primary" for o in first)
    assert backup_sink.received == []

    clock.now += 61
    second = await deliver_with_failover(
        [envelope(1), envelope(2), envelope(3)], primary, backup, 60.0, health, "primary"
    )
    assert sorted(o.message_id for o in second) == [1, 2, 3]
    assert {(o.kind, o.route) for o in second} == {(OutcomeKind.DELIVERED, "backup")}
    # Failed over: the next batch goes straight to the backup, the primary is not tried.
    clock.now += 1
    third = await deliver_with_failover([envelope(4)], primary, backup, 60.0, health, "primary")
    assert [(o.kind, o.route) for o in third] == [(OutcomeKind.DELIVERED, "backup")]
    rcpts = sorted(r.rcpt_to[0] for r in backup_sink.received)
    assert rcpts == sorted(f"user{i}@example.test" for i in (1, 2, 3, 4))
    assert backup_sink.duplicates() == []
    await primary.close()
    await backup.close()


async def test_traffic_returns_to_the_primary_once_a_probe_succeeds(
    make_sink: SinkFactory,
) -> None:
    primary_sink, backup_sink = make_sink(), make_sink()
    primary = SmtpRelay("primary", relay_settings(primary_sink), helo="agent.test")
    backup = SmtpRelay("backup", relay_settings(backup_sink), helo="agent.test")
    clock = Clock()
    health = Health(clock)
    health.record("primary", [])  # nothing recorded: not failing
    assert not health.failed_over("primary", 0)
    # Mark the primary failed (as if its connections had been refused for a while).
    dead = dead_relay(primary_sink)
    await deliver_with_failover([envelope(1)], dead, backup, 0, health, "primary")
    assert health.failed_over("primary", 0)
    # Within the probe interval the primary is left alone...
    await deliver_with_failover([envelope(2)], primary, backup, 0, health, "primary")
    assert primary_sink.received == []
    # ...then one batch probes it; it works, and traffic stays with it.
    clock.now += PROBE_SECONDS + 1
    await deliver_with_failover([envelope(3)], primary, backup, 0, health, "primary")
    await deliver_with_failover([envelope(4)], primary, backup, 0, health, "primary")
    assert sorted(r.rcpt_to[0] for r in primary_sink.received) == [
        "user3@example.test",
        "user4@example.test",
    ]
    assert sorted(r.rcpt_to[0] for r in backup_sink.received) == [
        "user1@example.test",
        "user2@example.test",
    ]
    for route in (primary, backup, dead):
        await route.close()


async def test_a_recipients_refusal_never_fails_over(make_sink: SinkFactory) -> None:
    primary_sink, backup_sink = make_sink(), make_sink()
    primary_sink.rule("user1@example.test", refuse("550 5.1.1 No such user"))
    primary = SmtpRelay("primary", relay_settings(primary_sink), helo="agent.test")
    backup = SmtpRelay("backup", relay_settings(backup_sink), helo="agent.test")
    health = Health()
    [outcome] = await deliver_with_failover([envelope(1)], primary, backup, 0, health, "p")
    assert outcome.kind is OutcomeKind.BOUNCED and not outcome.infrastructure
    assert not health.failed_over("p", 0)
    assert backup_sink.received == []
    await primary.close()
    await backup.close()
