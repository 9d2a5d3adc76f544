"""Traffic shaping: destination limits by domain and MX rollup, backoff on throttling replies
and gradual recovery, against MX stand-ins on loopback addresses and a local DNS server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from mailfleet.agent.routes.base import Envelope, Outcome, OutcomeKind
from mailfleet.agent.routes.direct_mx import DirectMx
from mailfleet.agent.routes.settings import (
    BackoffSettings,
    DestinationLimits,
    DirectMxRoute,
    LimitsSettings,
)
from mailfleet.agent.routes.shaping import Backoff, destination, is_throttling
from tests.agent.routes.conftest import SinkFactory, envelope
from tests.peers.dns import LocalDns
from tests.peers.smtp import defer, free_port


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def deferred(reply: str, enhanced: str = "") -> Outcome:
    return Outcome(1, OutcomeKind.DEFERRED, reply, enhanced=enhanced)


def test_throttling_replies_are_told_apart_from_other_deferrals() -> None:
    assert is_throttling(deferred("421 4.7.0 Try again later, closing connection"))
    assert is_throttling(deferred("451 4.7.28 Our system has detected an unusual rate", "4.7.28"))
    assert is_throttling(deferred("450 Too many messages from your IP, slow down"))
    assert not is_throttling(deferred("451 4.3.0 Mailbox temporarily unavailable", "4.3.0"))
    assert not is_throttling(deferred("cannot connect: Connection refused"))
    assert not is_throttling(Outcome(1, OutcomeKind.BOUNCED, "550 5.7.1 rate limited forever"))


def test_backoff_halves_per_episode_and_recovers_a_step_at_a_time() -> None:
    clock = Clock()
    backoff = Backoff(BackoffSettings(recover_seconds=60, unlimited_per_minute=600), clock)
    assert (backoff.connections(20), backoff.per_minute(0)) == (20, 0)
    backoff.throttled()
    backoff.throttled()  # the same episode: one step
    assert (backoff.level, backoff.connections(20), backoff.per_minute(0)) == (1, 10, 300)
    clock.now += 2
    backoff.throttled()
    assert (backoff.level, backoff.connections(20), backoff.per_minute(120)) == (2, 5, 30)
    clock.now += 30
    backoff.succeeded()  # too soon to speed up
    assert backoff.level == 2
    clock.now += 31
    backoff.succeeded()
    assert backoff.level == 1
    backoff.succeeded()  # each step waits its own recover_seconds
    assert backoff.level == 1
    clock.now += 61
    backoff.succeeded()
    assert (backoff.level, backoff.connections(20), backoff.per_minute(0)) == (0, 20, 0)
    for _ in range(20):
        clock.now += 2
        backoff.throttled()
    assert backoff.level == 5 and backoff.connections(20) == 1


def test_limits_come_from_the_domain_then_the_mx_rollup_then_the_default() -> None:
    limits = LimitsSettings(
        default=DestinationLimits(connections=20),
        domains={"Special.example": DestinationLimits(connections=3)},
        rollups={"*.google.com": DestinationLimits(connections=7)},
    )
    google = ["aspmx.l.google.com"]
    assert destination("special.example", google, limits) == (
        "special.example",
        limits.domains["special.example"],
    )
    assert destination("startup.io", google, limits) == (
        "rollup:*.google.com",
        limits.rollups["*.google.com"],
    )
    assert destination("other.org", ["mx.other.org"], limits) == ("other.org", limits.default)


@pytest.fixture
def dns_server() -> Iterator[LocalDns]:
    server = LocalDns()
    server.start()
    yield server
    server.stop()


def mx_route(dns_server: LocalDns, port: int, limits: LimitsSettings) -> DirectMx:
    settings = DirectMxRoute(
        resolvers=[f"127.0.0.1:{dns_server.port}"], port=port, tls="none", timeout_seconds=3.0
    )
    return DirectMx("mx", settings, limits, helo="agent.test")


async def test_a_throttling_destination_is_backed_off_while_others_keep_full_speed(
    dns_server: LocalDns, make_sink: SinkFactory
) -> None:
    port = free_port()
    slow = make_sink(host="127.0.0.2", port=port)
    fast = make_sink(host="127.0.0.3", port=port)
    dns_server.add("throttled.test", "MX", "10 mx.throttled.test.")
    dns_server.add("mx.throttled.test", "A", "127.0.0.2")
    dns_server.add("fast.test", "MX", "10 mx.fast.test.")
    dns_server.add("mx.fast.test", "A", "127.0.0.3")
    limits = LimitsSettings(
        default=DestinationLimits(connections=4),
        backoff=BackoffSettings(recover_seconds=600, unlimited_per_minute=2400),
    )
    mx = mx_route(dns_server, port, limits)

    def batch(start: int) -> list[Envelope]:
        return [envelope(i, f"u{i}@throttled.test") for i in range(start, start + 12)] + [
            envelope(100 + i, f"u{i}@fast.test") for i in range(start, start + 24)
        ]

    for i in range(12):
        slow.rule(f"u{i}@throttled.test", defer("421 4.7.0 Too many connections, slow down"))
    first = await mx.deliver(batch(0))
    throttled = [o for o in first if o.message_id < 100]
    assert {o.kind for o in throttled} == {OutcomeKind.DEFERRED}
    assert all(o.reply.startswith("421") for o in throttled)
    assert {o.kind for o in first if o.message_id >= 100} == {OutcomeKind.DELIVERED}
    assert fast.max_concurrent == 4

    # The destination accepts again, but it is served at half its connections and a paced
    # rate (2400/min halved: one message every 50 ms); the other keeps four connections.
    slow.reset_peak()
    fast.reset_peak()
    started = time.monotonic()
    second = await mx.deliver(batch(12))
    await mx.close()
    assert {o.kind for o in second} == {OutcomeKind.DELIVERED}
    slow_times = sorted(r.at for r in slow.received)
    assert len(slow_times) == 12
    assert slow_times[-1] - slow_times[0] >= 11 * 0.05 * 0.8
    assert slow.max_concurrent <= 2
    assert fast.max_concurrent == 4
    assert time.monotonic() - started < 30


async def test_an_mx_rollup_shares_one_set_of_limits_across_its_domains(
    dns_server: LocalDns, make_sink: SinkFactory
) -> None:
    port = free_port()
    hosted = make_sink(host="127.0.0.2", port=port)
    for domain in ("one.test", "two.test", "three.test"):
        dns_server.add(domain, "MX", "10 mx1.bigmail.test.")
    dns_server.add("mx1.bigmail.test", "A", "127.0.0.2")
    limits = LimitsSettings(
        default=DestinationLimits(connections=4),
        rollups={"*.bigmail.test": DestinationLimits(connections=2)},
    )
    mx = mx_route(dns_server, port, limits)
    batch = [
        envelope(n * 10 + i, f"u{i}@{d}")
        for n, d in enumerate(("one.test", "two.test", "three.test"))
        for i in range(8)
    ]
    outcomes = await mx.deliver(batch)
    await mx.close()
    assert {o.kind for o in outcomes} == {OutcomeKind.DELIVERED} and len(outcomes) == 24
    # Three domains at four connections each would open twelve; the rollup allows two.
    assert hosted.max_concurrent == 2
