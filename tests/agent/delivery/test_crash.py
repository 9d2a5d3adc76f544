"""Durability: what the agent acknowledged survives kill -9."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from mailfleet.v1 import campaigns_pb2, messages_pb2
from tests.agent.builders import (
    batches,
    campaign_request,
    recipients,
    relay_config,
    transactional,
    wait_until,
)
from tests.peers.agent import AgentProcess
from tests.peers.smtp import SmtpSink


def test_acknowledged_upload_survives_kill_9(agent_process: AgentProcess) -> None:
    stubs = agent_process.stubs()
    c = stubs.campaigns.CreateCampaign(campaign_request("crash"))
    summary = stubs.campaigns.UploadRecipients(batches(c.id, recipients(20_000), size=1000))
    assert summary.accepted == 20_000
    sent = stubs.transactional.SendMessage(transactional("crash-tx"))
    agent_process.kill()  # right after the acknowledgement, no clean shutdown

    agent_process.start()
    after = agent_process.stubs()
    got = after.campaigns.GetCampaign(campaigns_pb2.CampaignRef(campaign_id=c.id))
    assert got.counts.queued == got.counts.total == 20_000
    msg = after.messages.GetMessage(messages_pb2.GetMessageRequest(message_id=sent.message_id))
    assert msg.idempotency_key == "crash-tx"  # still there (a fresh agent then captures it)
    # and the idempotency keys still hold after the restart
    assert after.campaigns.CreateCampaign(campaign_request("crash")).id == c.id
    assert after.transactional.SendMessage(transactional("crash-tx")).duplicate


def test_kill_9_mid_campaign_loses_nothing_and_repeats_at_most_the_in_flight_window(
    agent_factory: Callable[[str], AgentProcess],
) -> None:
    window = 500
    with SmtpSink() as sink:
        agent = agent_factory(relay_config(sink, f"max_in_flight = {window}"))
        stubs = agent.stubs()
        c = stubs.campaigns.CreateCampaign(campaign_request("crash-delivery"))
        total = 20_000
        stubs.campaigns.UploadRecipients(batches(c.id, recipients(total), size=2000))
        ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
        stubs.campaigns.StartCampaign(ref)
        wait_until(lambda: len(sink.received) >= 4000, 120, "delivery to be well under way")
        agent.kill()
        agent.start()
        after = agent.stubs()
        wait_until(
            lambda: (
                after.campaigns.GetCampaign(ref).state == campaigns_pb2.CAMPAIGN_STATE_COMPLETED
            ),
            300,
            "the campaign to complete after the restart",
        )
        got = after.campaigns.GetCampaign(ref).counts
        assert got.delivered == got.total == total
        arrivals = Counter(r.rcpt_to[0] for r in sink.received)
        assert set(arrivals) == {f"user{i}@example.com" for i in range(total)}  # none lost
        repeats = sum(n - 1 for n in arrivals.values())
        assert repeats <= window, repeats


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()]


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_workers_and_the_resource_tracker_end_with_a_killed_coordinator_without_tracebacks(
    agent_factory: Callable[[str], AgentProcess],
) -> None:
    # So slow that workers left to finish what they hold would still be sending long after.
    with SmtpSink(reply_delay=0.5) as sink:
        agent = agent_factory(relay_config(sink))
        stubs = agent.stubs()
        c = stubs.campaigns.CreateCampaign(campaign_request("orphans"))
        stubs.campaigns.UploadRecipients(batches(c.id, recipients(2000), size=1000))
        stubs.campaigns.StartCampaign(campaigns_pb2.CampaignRef(campaign_id=c.id))
        wait_until(lambda: len(sink.received) >= 10, 60, "delivery to be under way")
        assert agent.proc is not None
        workers = agent.workers()
        children = _children(agent.proc.pid)  # the workers and multiprocessing's tracker
        assert len(workers) == 2 and len(children) > len(workers)
        agent.kill()
        wait_until(
            lambda: not any(_running(p) for p in children),
            30,
            "every worker and the resource tracker to end",
        )
        time.sleep(0.5)  # anything a dying worker wrote is in the log
        assert "Traceback" not in agent.log()
