"""``/metrics`` scraped while a real campaign runs, checked against the agent's events log."""

from __future__ import annotations

import json
import os
import re
import signal
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailfleet import agent
from mailfleet.v1 import campaigns_pb2, common_pb2, events_pb2
from tests.agent.builders import batches, campaign_request, relay_config, wait_until
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.smtp import SmtpSink, defer, refuse

AgentFactory = Callable[[str], AgentProcess]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

DELIVERED, DEFERRED, BOUNCED = 160, 12, 8
DASHBOARD = Path(__file__).resolve().parents[3] / "installers/grafana/mailfleet-agents.json"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


def exposition(agent: AgentProcess) -> str:
    """The agent's /metrics page."""
    url = f"{agent.http_url}/metrics"
    with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - loopback test URL
        assert reply.headers["Content-Type"].startswith("text/plain")
        return str(reply.read().decode())


def scrape(agent: AgentProcess) -> Samples:
    """Every sample of the agent's /metrics, keyed by name and labels."""
    text = exposition(agent)
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def event_counts(stubs: Stubs) -> tuple[Counter[int], Counter[tuple[int, str]]]:
    """Events by type, and by (type, recipient domain)."""
    found = stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=10_000)).events
    by_domain = Counter((int(e.type), e.email.rpartition("@")[2]) for e in found if e.email)
    return Counter(int(e.type) for e in found), by_domain


def test_metrics_during_a_campaign_match_the_events(
    agent_factory: AgentFactory, sink: SmtpSink
) -> None:
    rows = [
        common_pb2.Recipient(email=f"ok{i}@example.com", values=["A", "B"])
        for i in range(DELIVERED)
    ]
    rows += [
        common_pb2.Recipient(email=f"later{i}@slow.test", values=["A", "B"])
        for i in range(DEFERRED)
    ]
    rows += [
        common_pb2.Recipient(email=f"gone{i}@bounce.test", values=["A", "B"])
        for i in range(BOUNCED)
    ]
    for i in range(DEFERRED):
        sink.rule(f"later{i}@slow.test", defer())
    for i in range(BOUNCED):
        sink.rule(f"gone{i}@bounce.test", refuse())
    # Throttled, so the campaign is still running while it is scraped; deferrals are not
    # retried within the test.
    agent = agent_factory(relay_config(sink, "retry_base_seconds = 3600"))
    stubs = agent.stubs()
    campaign = stubs.campaigns.CreateCampaign(campaign_request("metrics", throttle_per_minute=1200))
    summary = stubs.campaigns.UploadRecipients(batches(campaign.id, rows))
    assert summary.accepted == len(rows)
    before = scrape(agent)
    assert value(before, "mailfleet_queue_messages", state="queued", lane="bulk") == len(rows)
    stubs.campaigns.StartCampaign(campaigns_pb2.CampaignRef(campaign_id=campaign.id))

    # Mid-campaign: each figure lies between what the events said just before and just after.
    wait_until(
        lambda: event_counts(stubs)[0][events_pb2.EVENT_TYPE_MESSAGE_DELIVERED] >= 20,
        60,
        "the first deliveries",
    )
    first, _ = event_counts(stubs)
    mid = scrape(agent)
    then, _ = event_counts(stubs)
    final_types = (
        events_pb2.EVENT_TYPE_MESSAGE_DELIVERED,
        events_pb2.EVENT_TYPE_MESSAGE_BOUNCED,
    )
    delivered = value(mid, "mailfleet_outcomes_total", outcome="delivered", lane="bulk")
    assert first[final_types[0]] <= delivered <= then[final_types[0]]
    assert delivered < DELIVERED, "the campaign was already over: nothing was seen mid-way"
    waiting = sum(
        value(mid, "mailfleet_queue_messages", state=s, lane="bulk")
        for s in ("queued", "in_flight", "deferred")
    )
    done_before = sum(first[t] for t in final_types)
    done_after = sum(then[t] for t in final_types)
    assert len(rows) - done_after <= waiting <= len(rows) - done_before
    assert value(mid, "mailfleet_workers") == 2

    # A worker that dies is restarted and counted.
    os.kill(agent.workers()[0], signal.SIGKILL)
    wait_until(
        lambda: value(scrape(agent), "mailfleet_worker_restarts_total") == 1, 30, "the restart"
    )

    def finished() -> bool:
        counts, _ = event_counts(stubs)
        return (
            counts[events_pb2.EVENT_TYPE_MESSAGE_DELIVERED] >= DELIVERED
            and counts[events_pb2.EVENT_TYPE_MESSAGE_BOUNCED] >= BOUNCED
            and counts[events_pb2.EVENT_TYPE_MESSAGE_DEFERRED] >= DEFERRED
        )

    wait_until(finished, 90, "every recipient's first outcome")
    end = scrape(agent)
    counts, by_domain = event_counts(stubs)
    assert (
        value(end, "mailfleet_outcomes_total", outcome="delivered", lane="bulk")
        == counts[events_pb2.EVENT_TYPE_MESSAGE_DELIVERED]
    )
    assert (
        value(end, "mailfleet_destination_deferrals_total", destination="slow.test")
        == (by_domain[(events_pb2.EVENT_TYPE_MESSAGE_DEFERRED, "slow.test")])
    )
    bounced = by_domain[(events_pb2.EVENT_TYPE_MESSAGE_BOUNCED, "bounce.test")]
    assert bounced == BOUNCED
    assert value(end, "mailfleet_destination_bounces_total", destination="bounce.test") == bounced
    assert value(end, "mailfleet_destination_bounces_total", destination="example.com") == 0
    assert value(end, "mailfleet_queue_messages", state="deferred", lane="bulk") == DEFERRED
    assert value(end, "mailfleet_queue_messages", state="queued", lane="bulk") == 0
    # By route, latency of the final outcomes, the oldest still waiting (the deferred ones).
    for outcome, event in (
        ("delivered", events_pb2.EVENT_TYPE_MESSAGE_DELIVERED),
        ("deferred", events_pb2.EVENT_TYPE_MESSAGE_DEFERRED),
        ("bounced", events_pb2.EVENT_TYPE_MESSAGE_BOUNCED),
    ):
        assert (
            value(end, "mailfleet_route_outcomes_total", route="relay", pool="", outcome=outcome)
            == (counts[event])
        )
    finals = counts[events_pb2.EVENT_TYPE_MESSAGE_DELIVERED] + BOUNCED
    latency = "mailfleet_delivery_latency_seconds"
    assert value(end, f"{latency}_count", lane="bulk") == finals
    assert value(end, f"{latency}_bucket", lane="bulk", le="+Inf") == finals
    assert 0 < value(end, f"{latency}_sum", lane="bulk") < finals * 300
    assert 0 < value(end, "mailfleet_oldest_queued_seconds") < 600


def test_grpc_calls_are_timed_and_counted_by_status(agent_process: AgentProcess) -> None:
    stubs = agent_process.stubs()
    stubs.campaigns.CreateCampaign(campaign_request("one"))
    with (
        agent_process.channel_for("mfk_not_a_key") as ch,
        pytest.raises(grpc.RpcError) as refused,
    ):
        Stubs.on(ch).campaigns.CreateCampaign(campaign_request("two"))
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # The labels stock dashboards use (go-grpc-prometheus).
    call = {
        "grpc_type": "unary",
        "grpc_service": "mailfleet.v1.Campaigns",
        "grpc_method": "CreateCampaign",
    }
    # gRPC sends an aborted call's status before the interceptor's bookkeeping runs.
    wait_until(
        lambda: value(scrape(agent_process), "grpc_server_handling_seconds_count", **call) == 2,
        10,
        "the refused call to be counted",
    )
    samples = scrape(agent_process)
    assert value(samples, "grpc_server_started_total", **call) == 2
    assert value(samples, "grpc_server_handled_total", **call, grpc_code="OK") == 1
    assert value(samples, "grpc_server_handled_total", **call, grpc_code="UNAUTHENTICATED") == 1
    assert value(samples, "grpc_server_handling_seconds_sum", **call) > 0
    assert value(samples, "grpc_server_handling_seconds_bucket", **call, le="+Inf") == 2
    # The process's own figures come along, and which release this is.
    assert value(samples, "process_resident_memory_bytes") > 0
    (build,) = [labels for name, labels in samples if name == "mailfleet_build_info"]
    assert dict(build)["version"] == agent.__version__


def test_the_grafana_dashboard_only_uses_metrics_the_agent_exports(
    agent_process: AgentProcess,
) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {
        re.sub(r"_(total|bucket|count|sum)$", "", name)
        for expr in exprs
        for name in re.findall(r"\b((?:mailfleet|process|grpc_server)_[a-z_]+)\b", expr)
    }
    text = exposition(agent_process)
    declared = {re.sub(r"_total$", "", name) for name in re.findall(r"^# TYPE (\S+) ", text, re.M)}
    assert len(used) >= 9
    assert used <= declared, used - declared
    # The whole agent's memory and CPU (its workers too), each worker's, outcomes by pool.
    assert {
        "mailfleet_agent_cpu_seconds",
        "mailfleet_agent_resident_memory_bytes",
        "mailfleet_worker_resident_memory_bytes",
        "mailfleet_worker_cpu_seconds",
    } <= used
    assert any("by (pool," in expr for expr in exprs)
    # A legend's labels are on the series it draws (those this idle agent already has).
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels.setdefault(family.name, set()).update(sample.labels)
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            (name, *_) = re.findall(r"\b((?:mailfleet|process)_[a-z_]+)\b", target["expr"]) or [""]
            shown = set(re.findall(r"{{(\w+)}}", target.get("legendFormat", ""))) - {"instance"}
            drawn = re.sub(r"_(total|bucket)$", "", name)
            if drawn in labels:
                assert shown <= labels[drawn], (panel["title"], shown - labels[drawn])
