"""The MX resolver against a local DNS answer source: answers, caching, shared queries."""

from __future__ import annotations

import asyncio
import time

from mailfleet.agent.routes.smtp.mx import MxResolver
from tests.peers.dns import LocalDns


def test_concurrent_lookups_of_one_name_send_one_query(local_dns: LocalDns) -> None:
    local_dns.add("shop.test", "MX", "10 mx.shop.test.")
    local_dns.add("mx.shop.test", "A", "127.0.0.9")
    resolver = MxResolver([f"127.0.0.1:{local_dns.port}"])

    async def connections_opening_at_once() -> list[list[str]]:
        hosts = await resolver.hosts("shop.test")
        return await asyncio.gather(*(resolver.addresses(hosts[0].name) for _ in range(8)))

    answers = asyncio.run(connections_opening_at_once())
    assert answers == [["127.0.0.9"]] * 8
    assert sorted(local_dns.queries) == [
        ("mx.shop.test.", "A"),
        ("mx.shop.test.", "AAAA"),
        ("shop.test.", "MX"),
    ]


def test_a_failure_reaches_every_concurrent_asker_and_is_not_kept(local_dns: LocalDns) -> None:
    resolver = MxResolver([f"127.0.0.1:{local_dns.port}"])

    async def ask_twice_at_once() -> tuple[object, ...]:
        return await asyncio.gather(
            resolver.hosts("gone.test"), resolver.hosts("gone.test"), return_exceptions=True
        )

    results = asyncio.run(ask_twice_at_once())
    assert [str(r) for r in results] == ["550 5.1.2 domain gone.test does not exist"] * 2
    assert local_dns.queries == [("gone.test.", "MX")]


def test_a_cancelled_asker_does_not_cancel_the_shared_lookup(local_dns: LocalDns) -> None:
    local_dns.add("mx.shop.test", "A", "127.0.0.9")
    resolver = MxResolver([f"127.0.0.1:{local_dns.port}"])

    async def one_gives_up() -> list[str]:
        quitter = asyncio.ensure_future(resolver.addresses("mx.shop.test"))
        stayer = asyncio.ensure_future(resolver.addresses("mx.shop.test"))
        await asyncio.sleep(0)
        quitter.cancel()
        return await stayer

    assert asyncio.run(one_gives_up()) == ["127.0.0.9"]


def test_answers_are_kept_for_their_ttl_then_asked_again(local_dns: LocalDns) -> None:
    local_dns.ttl = 1
    local_dns.add("shop.test", "MX", "10 mx.shop.test.")
    resolver = MxResolver([f"127.0.0.1:{local_dns.port}"])

    async def deliveries(count: int) -> list[list[str]]:
        return [[h.name for h in await resolver.hosts("shop.test")] for _ in range(count)]

    assert asyncio.run(deliveries(5)) == [["mx.shop.test"]] * 5
    assert local_dns.queries == [("shop.test.", "MX")]
    time.sleep(1.2)
    assert asyncio.run(deliveries(2)) == [["mx.shop.test"]] * 2
    assert local_dns.queries == [("shop.test.", "MX")] * 2
