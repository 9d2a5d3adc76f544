"""Direct MX delivery against a local DNS server and MX stand-ins on loopback addresses.

Every MX stand-in listens on the same port on its own 127.0.0.x address, because the route
connects to one port on whatever addresses DNS gives it.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mailfleet.agent.routes import direct_mx
from mailfleet.agent.routes.base import OutcomeKind
from mailfleet.agent.routes.direct_mx import DirectMx
from mailfleet.agent.routes.settings import DestinationLimits, DirectMxRoute, LimitsSettings
from tests.agent.routes.conftest import SinkFactory, envelope
from tests.peers.dns import LocalDns
from tests.peers.smtp import free_port

DEAD = "127.0.0.9"  # a loopback address nothing listens on


@pytest.fixture
def dns_server() -> Iterator[LocalDns]:
    server = LocalDns()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def port() -> int:
    return free_port()


def route(
    dns_server: LocalDns, port: int, limits: LimitsSettings | None = None, **overrides: Any
) -> DirectMx:
    values: dict[str, Any] = {
        "resolvers": [f"127.0.0.1:{dns_server.port}"],
        "port": port,
        "tls": "none",
        "timeout_seconds": 3.0,
    }
    values.update(overrides)
    return DirectMx("mx", DirectMxRoute(**values), limits or LimitsSettings(), helo="agent.test")


async def test_the_preferred_mx_gets_the_mail(
    dns_server: LocalDns, port: int, make_sink: SinkFactory
) -> None:
    first = make_sink(host="127.0.0.2", port=port)
    second = make_sink(host="127.0.0.3", port=port)
    dns_server.add("example.test", "MX", "20 mx2.example.test.")
    dns_server.add("example.test", "MX", "10 mx1.example.test.")
    dns_server.add("mx1.example.test", "A", "127.0.0.2")
    dns_server.add("mx2.example.test", "A", "127.0.0.3")
    mx = route(dns_server, port)
    outcomes = await mx.deliver([envelope(i) for i in range(5)])
    await mx.close()

    assert {(o.kind, o.host) for o in outcomes} == {(OutcomeKind.DELIVERED, "mx1.example.test")}
    assert len(first.received) == 5 and second.received == []
    assert {r.helo for r in first.received} == {"agent.test"}


async def test_a_dead_mx_falls_back_to_the_next(
    dns_server: LocalDns, port: int, make_sink: SinkFactory
) -> None:
    backup = make_sink(host="127.0.0.3", port=port)
    dns_server.add("example.test", "MX", "10 mx1.example.test.")
    dns_server.add("example.test", "MX", "20 mx2.example.test.")
    dns_server.add("mx1.example.test", "A", DEAD)
    dns_server.add("mx2.example.test", "A", "127.0.0.3")
    mx = route(dns_server, port)
    outcomes = await mx.deliver([envelope(i) for i in range(3)])
    await mx.close()

    assert {(o.kind, o.host) for o in outcomes} == {(OutcomeKind.DELIVERED, "mx2.example.test")}
    assert len(backup.received) == 3


async def test_no_mx_falls_back_to_the_domains_address(
    dns_server: LocalDns, port: int, make_sink: SinkFactory
) -> None:
    sink = make_sink(host="127.0.0.2", port=port)
    dns_server.add("plain.test", "A", "127.0.0.2")
    mx = route(dns_server, port)
    [outcome] = await mx.deliver([envelope(1, "someone@plain.test")])
    await mx.close()

    assert (outcome.kind, outcome.host) == (OutcomeKind.DELIVERED, "plain.test")
    assert [r.rcpt_to for r in sink.received] == [("someone@plain.test",)]


async def test_null_mx_bounces_without_connecting(
    dns_server: LocalDns, port: int, make_sink: SinkFactory
) -> None:
    sink = make_sink(host="127.0.0.2", port=port)
    dns_server.add("nomail.test", "MX", "0 .")
    dns_server.add("nomail.test", "A", "127.0.0.2")  # would be the implicit MX without "0 ."
    mx = route(dns_server, port)
    outcomes = await mx.deliver([envelope(1, "a@nomail.test"), envelope(2, "b@nomail.test")])

    assert {(o.kind, o.enhanced) for o in outcomes} == {(OutcomeKind.BOUNCED, "5.1.10")}
    assert all(o.reply.startswith("556 5.1.10") for o in outcomes)
    assert sink.sessions == 0


async def test_a_domain_that_does_not_exist_bounces(dns_server: LocalDns, port: int) -> None:
    dns_server.add("exists.test", "A", "127.0.0.2")
    mx = route(dns_server, port)
    [outcome] = await mx.deliver([envelope(1, "a@missing.test")])
    assert (outcome.kind, outcome.enhanced) == (OutcomeKind.BOUNCED, "5.1.2")


async def test_every_mx_dead_defers(dns_server: LocalDns, port: int) -> None:
    dns_server.add("example.test", "MX", "10 mx1.example.test.")
    dns_server.add("mx1.example.test", "A", DEAD)
    mx = route(dns_server, port)
    outcomes = await mx.deliver([envelope(1), envelope(2)])
    assert {o.kind for o in outcomes} == {OutcomeKind.DEFERRED}
    assert all("Connection refused" in o.reply for o in outcomes)


async def test_answers_are_cached(dns_server: LocalDns, port: int, make_sink: SinkFactory) -> None:
    sink = make_sink(host="127.0.0.2", port=port)
    dns_server.add("example.test", "MX", "10 mx1.example.test.")
    dns_server.add("mx1.example.test", "A", "127.0.0.2")
    mx = route(dns_server, port, limits=LimitsSettings(default=DestinationLimits(connections=1)))
    await mx.deliver([envelope(1)])
    await mx.close()  # so the next message needs a new connection, hence the MX again
    dns_server.stop()
    [outcome] = await mx.deliver([envelope(2)])
    await mx.close()

    assert outcome.kind is OutcomeKind.DELIVERED
    assert len(sink.received) == 2 and sink.sessions == 2


@pytest.mark.parametrize(
    ("sink_tls", "mode", "kind", "encrypted"),
    [
        ("starttls", "opportunistic", OutcomeKind.DELIVERED, True),
        ("none", "opportunistic", OutcomeKind.DELIVERED, False),
        ("starttls", "required", OutcomeKind.DELIVERED, True),
        ("none", "required", OutcomeKind.DEFERRED, False),
        ("starttls", "none", OutcomeKind.DELIVERED, False),
        # A failed handshake: opportunistic falls back to plain text, required gives up.
        ("broken_starttls", "opportunistic", OutcomeKind.DELIVERED, False),
        ("broken_starttls", "required", OutcomeKind.DEFERRED, False),
    ],
)
async def test_tls_policy(
    dns_server: LocalDns,
    port: int,
    make_sink: SinkFactory,
    sink_tls: str,
    mode: str,
    kind: OutcomeKind,
    encrypted: bool,
) -> None:
    sink = make_sink(host="127.0.0.2", port=port, tls=sink_tls)
    dns_server.add("example.test", "MX", "10 mx1.example.test.")
    dns_server.add("mx1.example.test", "A", "127.0.0.2")
    mx = route(dns_server, port, tls=mode)
    [outcome] = await mx.deliver([envelope(1)])
    await mx.close()

    assert outcome.kind is kind
    assert [r.tls for r in sink.received] == ([encrypted] if kind is OutcomeKind.DELIVERED else [])


async def test_source_address_and_helo_are_configurable(
    dns_server: LocalDns, port: int, make_sink: SinkFactory
) -> None:
    sink = make_sink(host="127.0.0.2", port=port)
    dns_server.add("example.test", "MX", "10 mx1.example.test.")
    dns_server.add("mx1.example.test", "A", "127.0.0.2")
    mx = route(dns_server, port, source_address="127.0.0.5", helo="out1.sender.test")
    await mx.deliver([envelope(1)])
    await mx.close()

    assert [(r.peer, r.helo) for r in sink.received] == [("127.0.0.5", "out1.sender.test")]


async def test_a_slow_destination_does_not_hold_back_another(
    dns_server: LocalDns, port: int, make_sink: SinkFactory
) -> None:
    fast = make_sink(host="127.0.0.2", port=port)
    slow = make_sink(host="127.0.0.3", port=port, ehlo_delay=2.0)
    for domain, address in (("fast.test", "127.0.0.2"), ("slow.test", "127.0.0.3")):
        dns_server.add(domain, "MX", f"10 mx.{domain}.")
        dns_server.add(f"mx.{domain}", "A", address)
    # One connection each, so the slow domain's messages queue behind its slow session.
    limits = LimitsSettings(default=DestinationLimits(connections=1))
    mx = route(dns_server, port, limits=limits)
    slow_batch = [envelope(i, f"u{i}@slow.test") for i in range(5)]
    fast_batch = [envelope(i, f"u{i}@fast.test") for i in range(5, 10)]
    started = time.monotonic()
    # Both in one batch (domains interleaved) and a second batch at the same time.
    mixed, alone = await asyncio.gather(
        mx.deliver([e for pair in zip(slow_batch[:3], fast_batch[:3], strict=True) for e in pair]),
        mx.deliver(slow_batch[3:] + fast_batch[3:]),
    )
    await mx.close()

    assert {o.kind for o in mixed + alone} == {OutcomeKind.DELIVERED}
    fast_done = max(r.at for r in fast.received)
    slow_first = min(r.at for r in slow.received)
    assert len(fast.received) == 5 and len(slow.received) == 5
    assert fast_done < slow_first
    assert fast_done - started < 1.5


async def test_per_domain_limits_apply_to_their_domain_only(
    dns_server: LocalDns, port: int, make_sink: SinkFactory
) -> None:
    narrow = make_sink(host="127.0.0.2", port=port, reply_delay=0.01)
    wide = make_sink(host="127.0.0.3", port=port, reply_delay=0.01)
    for domain, address in (("narrow.test", "127.0.0.2"), ("wide.test", "127.0.0.3")):
        dns_server.add(domain, "MX", f"10 mx.{domain}.")
        dns_server.add(f"mx.{domain}", "A", address)
    limits = LimitsSettings(
        default=DestinationLimits(connections=4, messages_per_connection=5),
        domains={"narrow.test": DestinationLimits(connections=1, messages_per_connection=100)},
    )
    mx = route(dns_server, port, limits=limits)
    await mx.deliver(
        [envelope(i, f"u{i}@narrow.test") for i in range(20)]
        + [envelope(i, f"u{i}@wide.test") for i in range(20, 40)]
    )
    await mx.close()

    assert (narrow.sessions, narrow.max_concurrent) == (1, 1)
    assert wide.max_concurrent == 4 and wide.sessions >= 4
    assert len(narrow.received) == len(wide.received) == 20


async def test_an_mx_that_just_failed_is_tried_last(
    dns_server: LocalDns, port: int, make_sink: SinkFactory
) -> None:
    backup = make_sink(host="127.0.0.3", port=port)
    # A black hole: the kernel accepts the connection but no greeting ever comes.
    with socket.socket() as hole:
        hole.bind(("127.0.0.4", port))
        hole.listen(8)
        dns_server.add("example.test", "MX", "10 mx1.example.test.")
        dns_server.add("example.test", "MX", "20 mx2.example.test.")
        dns_server.add("mx1.example.test", "A", "127.0.0.4")
        dns_server.add("mx2.example.test", "A", "127.0.0.3")
        mx = route(dns_server, port, timeout_seconds=1.0)
        started = time.monotonic()
        [first] = await mx.deliver([envelope(1)])
        first_took = time.monotonic() - started
        await mx.close()  # the next message needs a new connection
        started = time.monotonic()
        [second] = await mx.deliver([envelope(2)])
        second_took = time.monotonic() - started
        await mx.close()

    assert (first.kind, first.host) == (OutcomeKind.DELIVERED, "mx2.example.test")
    assert (second.kind, second.host) == (OutcomeKind.DELIVERED, "mx2.example.test")
    assert first_took >= 1.0 > second_took
    assert len(backup.received) == 2


async def test_pools_of_domains_no_longer_sent_to_are_dropped(
    dns_server: LocalDns, port: int, make_sink: SinkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(direct_mx, "_SWEEP_SECONDS", 0.0)
    make_sink(host="127.0.0.2", port=port)
    for domain in ("one.test", "two.test"):
        dns_server.add(domain, "MX", "10 mx.shared.test.")
    dns_server.add("mx.shared.test", "A", "127.0.0.2")
    mx = route(dns_server, port)
    await mx.deliver([envelope(1, "a@one.test")])
    assert set(mx._pools) == {"one.test"}
    await mx.close()  # one.test's connection closed: its pool is now quiet
    await mx.deliver([envelope(2, "a@two.test")])
    # Memory follows current traffic: the quiet pool went, the busy one (idle session) stays.
    assert set(mx._pools) == {"two.test"}
    await mx.deliver([envelope(3, "b@two.test")])
    assert set(mx._pools) == {"two.test"}
    await mx.close()


async def test_a_malformed_domain_fails_without_a_lookup(dns_server: LocalDns, port: int) -> None:
    dns_server.stop()  # any lookup would now time out and defer
    mx = route(dns_server, port, timeout_seconds=0.5)
    outcomes = await mx.deliver([envelope(1, "a@bad..test"), envelope(2, f"a@{'x' * 64}.test")])
    assert [o.kind for o in outcomes] == [OutcomeKind.FAILED, OutcomeKind.FAILED]
    assert all("invalid domain" in o.reply for o in outcomes)
