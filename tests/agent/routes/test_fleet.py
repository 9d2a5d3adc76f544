"""Fleet-wide destination limits on a real redis-server: two real agents, two workers each,
sending to one MX rollup through one MX stand-in that counts sessions open at once and
arrivals; then Redis is killed mid-run and every message still arrives exactly once."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.agent.builders import transactional, wait_until
from tests.peers.agent import AgentProcess
from tests.peers.dns import LocalDns
from tests.peers.redis import RedisServer
from tests.peers.smtp import SmtpSink, free_port

AgentFactory = Callable[[str], AgentProcess]
MX = "127.0.0.12"
DOMAINS = ("one.test", "two.test", "three.test")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def mx(local_dns: LocalDns) -> Iterator[SmtpSink]:
    """One MX host serving three domains (an MX rollup)."""
    with SmtpSink(host=MX, port=free_port(MX), keep_data=False) as sink:
        for domain in DOMAINS:
            local_dns.add(domain, "MX", "10 mx.bigmail.test.")
        local_dns.add("mx.bigmail.test", "A", MX)
        yield sink


def config(local_dns: LocalDns, mx: SmtpSink, redis: RedisServer, limits: str) -> str:
    return f"""
[delivery]
workers = 2
default_route = "mx"

[routes.mx]
type = "mx"
resolvers = ["127.0.0.1:{local_dns.port}"]
port = {mx.port}
tls = "none"

[limits.rollups."*.bigmail.test"]
{limits}

[shared]
redis_url = "{redis.url}"
"""


def send(agent: AgentProcess, name: str, count: int) -> set[str]:
    stubs = agent.stubs()
    emails = {f"{name}{i}@{DOMAINS[i % len(DOMAINS)]}" for i in range(count)}
    for email in sorted(emails):
        stubs.transactional.SendMessage(transactional(f"t-{email}", email))
    return emails


def arrived(mx: SmtpSink) -> list[str]:
    return [r for m in mx.received for r in m.rcpt_to]


def test_limits_hold_across_two_agents_and_their_workers_and_survive_redis_going_away(
    agent_factory: AgentFactory, local_dns: LocalDns, mx: SmtpSink, redis_server: RedisServer
) -> None:
    made = config(local_dns, mx, redis_server, "connections = 1\nper_minute = 60")
    # Without Redis each worker keeps all of its own limits: quick to finish here.
    made += "fallback_share = 1.0\n"
    first, second = agent_factory(made), agent_factory(made)
    emails = send(first, "a", 6) | send(second, "b", 6)
    wait_until(lambda: mx.count >= len(emails), 90, "every message")
    assert sorted(arrived(mx)) == sorted(emails) and mx.duplicates() == []
    # Four workers in two agents, three domains: one session at a time in all.
    assert mx.max_concurrent == 1
    # 60 a minute is one a second, and the fleet's bucket holds one token: n arrivals
    # take at least n - 2 seconds, however the machine is loaded.
    times = sorted(m.at for m in mx.received)
    assert times[-1] - times[0] >= len(times) - 2
    said = "shared limits: Redis cannot be reached"
    assert said not in first.log() + second.log()

    redis_server.kill()
    later = send(first, "c", 8) | send(second, "d", 8)
    wait_until(lambda: mx.count >= len(emails | later), 90, "every message after Redis went")
    assert sorted(arrived(mx)) == sorted(emails | later) and mx.duplicates() == []
    for agent in (first, second):
        log = agent.log()
        # Said by each worker's link that tried it (one per lane), not once per message.
        assert 1 <= log.count(said) <= 4, log
        assert "each worker keeps 100% of its own destination limits" in log
