"""``mailfleet-agent queue …`` against a real agent whose relay defers (a 4xx sink): tables for a
person, JSON for scripts, one-line errors."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from mailfleet.v1 import campaigns_pb2, messages_pb2, queue_pb2
from tests.agent.builders import batches, campaign_request, recipients, relay_config, wait_until
from tests.peers.agent import AgentProcess, agent_command
from tests.peers.smtp import SmtpSink, defer

SLOW_RETRIES = "retry_base_seconds = 3600\nretry_max_seconds = 7200"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


def queue(agent: AgentProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*agent_command(), "queue", *args, "--config", str(agent.config)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def said(agent: AgentProcess, *args: str) -> str:
    done = queue(agent, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def refused(agent: AgentProcess, *args: str) -> str:
    done = queue(agent, *args)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    return done.stderr.strip()


def test_the_queue_commands_list_count_retry_end_and_suspend(
    sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> None:
    agent = AgentProcess(
        tmp_path_factory.mktemp("cli") / "agent", extra_config=relay_config(sink, SLOW_RETRIES)
    )
    agent.start()
    try:
        _commands(agent, sink)
    finally:
        agent.close()


def _commands(agent: AgentProcess, sink: SmtpSink) -> None:
    stubs = agent.stubs()
    rows = recipients(3, domain="slow.example") + recipients(2, start=3, domain="busy.example")
    for r in rows:
        sink.rule(r.email, defer("451 4.7.1 Try again later"))
    c = stubs.campaigns.CreateCampaign(campaign_request("news"))
    stubs.campaigns.UploadRecipients(batches(c.id, rows))
    stubs.campaigns.StartCampaign(campaigns_pb2.CampaignRef(campaign_id=c.id))

    def deferred() -> int:
        listed = stubs.queue.ListQueue(queue_pb2.ListQueueRequest()).messages
        return sum(m.state == messages_pb2.MESSAGE_STATE_DEFERRED for m in listed)

    wait_until(lambda: deferred() == 5, 60, "the campaign deferred")

    table = said(agent, "list").splitlines()
    assert table[0].split()[:3] == ["ID", "STATE", "AGE"]
    assert len(table) == 7 and table[-1] == "5 messages"
    assert "451 4.7.1 Try again later" in table[1] and " relay " in table[1]
    lines = said(agent, "list", "--domain", "slow.example", "--json").splitlines()
    assert sorted(json.loads(line)["email"] for line in lines) == [r.email for r in rows[:3]]

    summary = said(agent, "summary")
    assert "busy.example" in summary and "in all: 0 queued, 5 deferred, 0 in flight" in summary
    counted = json.loads(said(agent, "summary", "--json"))
    assert [(d["name"], d["deferred"]) for d in counted["domains"]] == [
        ("slow.example", "3"),
        ("busy.example", "2"),
    ]

    assert said(agent, "retry", "--domain", "busy.example", "--route", "relay") == (
        "2 deferred messages due now\n"
    )
    said(agent, "suspend", "domain", "slow.example", "--reason", "their MX is down", "--for", "2h")
    held = said(agent, "suspensions")
    assert held.startswith("domain slow.example (tenant 1) until ") and held.rstrip().endswith(
        "(in 1h): their MX is down"
    )
    assert json.loads(said(agent, "suspensions", "--json"))["suspensions"][0]["name"] == (
        "slow.example"
    )
    assert "slow.example (suspended)" in said(agent, "summary")
    assert said(agent, "resume", "domain", "slow.example") == (
        "resumed domain slow.example: its mail goes out again\n"
    )
    assert said(agent, "suspensions") == "nothing is suspended\n"

    assert refused(agent, "delete") == (
        "mailfleet-agent queue delete:"
        " say which mail to delete: give a filter, message ids or --all"
    )
    assert refused(agent, "list", "--domain", "not a domain") == (
        "mailfleet-agent queue list: --domain: 'not a domain' is not a domain name"
    )
    assert refused(agent, "suspend", "route", "nope") == (
        "mailfleet-agent queue suspend: the domain or route: the agent has no route named 'nope'"
    )
    wait_until(lambda: deferred() == 5, 60, "the retried mail deferred again")
    ended = said(agent, "bounce", "--campaign", str(c.id), "--older-than", "0s", "--reason", "gone")
    assert ended == "5 messages bounced\n"
    assert said(agent, "list") == "the queue is empty\n"

    agent.terminate()
    port = agent.port
    assert refused(agent, "summary") == (
        "mailfleet-agent queue summary: the agent is not running"
        f" (nothing answers on 127.0.0.1:{port})"
    )
