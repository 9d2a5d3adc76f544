"""``/metrics`` sees the worker processes (memory, CPU, open files) and the agent's totals, and
counts outcomes by route and IP pool; a killed worker neither sets a counter back nor counts
twice."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable, Iterator

import pytest

from mailfleet.v1 import campaigns_pb2, common_pb2, events_pb2
from tests.agent.builders import batches, campaign_request, wait_until
from tests.agent.telemetry.test_metrics import Samples, event_counts, scrape, value
from tests.peers.agent import AgentProcess
from tests.peers.dns import LocalDns
from tests.peers.smtp import SmtpSink, free_port, refuse

AgentFactory = Callable[[str], AgentProcess]
MIB = 1024 * 1024


def by_worker(samples: Samples, name: str) -> dict[str, float]:
    """A per-worker series' values by its ``worker`` label."""
    return {dict(labels)["worker"]: v for (n, labels), v in samples.items() if n == name}


def test_each_worker_is_seen_and_a_restart_keeps_the_counters(
    agent_process: AgentProcess,
) -> None:
    first = scrape(agent_process)
    memory = by_worker(first, "mailfleet_worker_resident_memory_bytes")
    pids = agent_process.workers()
    assert set(memory) == {str(i) for i in range(len(pids))} and len(pids) >= 1
    # A worker is a whole Python with the delivery code loaded (about 70-90 MiB).
    assert all(rss > 20 * MIB for rss in memory.values())
    coordinator = value(first, "process_resident_memory_bytes")
    total = value(first, "mailfleet_agent_resident_memory_bytes")
    assert total > coordinator + 0.9 * sum(memory.values())
    assert set(by_worker(first, "mailfleet_worker_open_fds")) == set(memory)

    killed = agent_process.workers()[0]
    (slot,) = re.findall(rf"worker (\d+) started \(pid {killed}\)", agent_process.log())
    before = scrape(agent_process)  # the killed worker is idle: it uses no CPU after this
    killed_cpu = by_worker(before, "mailfleet_worker_cpu_seconds_total")[slot]
    assert killed_cpu > 0
    os.kill(killed, signal.SIGKILL)
    seen = [before]

    def restarted() -> bool:
        seen.append(scrape(agent_process))
        last = seen[-1]
        return (
            value(last, "mailfleet_worker_restarts_total") == 1
            and slot in by_worker(last, "mailfleet_worker_cpu_seconds_total")
            and by_worker(last, "mailfleet_worker_start_time_seconds")[slot]
            != by_worker(before, "mailfleet_worker_start_time_seconds")[slot]
        )

    wait_until(restarted, 60, "the worker's restart")
    # Counters never go back, at any scrape through the restart.
    for name in ("mailfleet_agent_cpu_seconds_total", "process_cpu_seconds_total"):
        figures = [value(s, name) for s in seen]
        assert figures == sorted(figures), name
    slot_cpu = [by_worker(s, "mailfleet_worker_cpu_seconds_total").get(slot) for s in seen]
    present = [cpu for cpu in slot_cpu if cpu is not None]
    assert present == sorted(present) and present[-1] >= killed_cpu
    # The agent's CPU is the coordinator's plus every worker's, the killed one once: counted
    # twice or lost, it would be off by all the CPU that worker used.
    end = seen[-1]
    parts = value(end, "process_cpu_seconds_total") + sum(
        by_worker(end, "mailfleet_worker_cpu_seconds_total").values()
    )
    assert abs(value(end, "mailfleet_agent_cpu_seconds_total") - parts) < killed_cpu / 2


@pytest.fixture
def mx(local_dns: LocalDns) -> Iterator[SmtpSink]:
    """The MX of pooled.test."""
    with SmtpSink(host="127.0.0.10", port=free_port("127.0.0.10")) as sink:
        local_dns.add("pooled.test", "MX", "10 mx.pooled.test.")
        local_dns.add("mx.pooled.test", "A", "127.0.0.10")
        yield sink


def test_outcomes_are_counted_by_route_and_ip_pool(
    agent_factory: AgentFactory, mx: SmtpSink, local_dns: LocalDns
) -> None:
    for i in range(3):
        mx.rule(f"gone{i}@pooled.test", refuse())
    agent = agent_factory(f"""
[delivery]
workers = 2
default_route = "pooled"

[routes.pooled]
type = "mx"
resolvers = ["127.0.0.1:{local_dns.port}"]
port = {mx.port}
tls = "none"
pool = "outbound"

[[ip_pools.pools.outbound.addresses]]
address = "127.0.0.2"
""")
    stubs = agent.stubs()
    emails = [f"u{i}@pooled.test" for i in range(20)] + [f"gone{i}@pooled.test" for i in range(3)]
    rows = [common_pb2.Recipient(email=e, values=["A", "B"]) for e in emails]
    campaign = stubs.campaigns.CreateCampaign(campaign_request("pooled"))
    stubs.campaigns.UploadRecipients(batches(campaign.id, rows))
    stubs.campaigns.StartCampaign(campaigns_pb2.CampaignRef(campaign_id=campaign.id))

    def counts() -> tuple[int, int]:
        found = event_counts(stubs)[0]
        return (
            found[events_pb2.EVENT_TYPE_MESSAGE_DELIVERED],
            found[events_pb2.EVENT_TYPE_MESSAGE_BOUNCED],
        )

    wait_until(lambda: counts() == (20, 3), 90, "every recipient's outcome")
    end = scrape(agent)
    series = "mailfleet_route_outcomes_total"
    labels = {"route": "pooled", "pool": "outbound"}
    assert value(end, series, **labels, outcome="delivered") == 20
    assert value(end, series, **labels, outcome="bounced") == 3
    assert all(dict(k)["pool"] == "outbound" for n, k in end if n == series)
    # The outcome's log line names the pool too.
    assert "pool=outbound" in agent.log()
