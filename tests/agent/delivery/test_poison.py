"""Poison messages: a message that breaks its worker fails alone; the rest of the campaign goes.

The faults are real: ``MAILFLEET_TEST_FAULT`` (mailfleet/agent/delivery/faults.py) makes the worker
that builds one address's message kill itself with SIGKILL, or raise, in the agent's own process.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from mailfleet.agent.delivery.faults import VARIABLE
from mailfleet.agent.delivery.outcomes import CRASHED_THE_WORKER
from mailfleet.agent.delivery.scheduler import CRASH_LIMIT
from mailfleet.v1 import campaigns_pb2, events_pb2, messages_pb2
from tests.agent.builders import batches, campaign_request, recipients, relay_config, wait_until
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.smtp import SmtpSink

AgentFactory = Callable[[str], AgentProcess]
TOTAL = 200
POISON = "user57@example.com"


def _run_campaign(stubs: Stubs) -> campaigns_pb2.CampaignRef:
    c = stubs.campaigns.CreateCampaign(campaign_request("poison"))
    assert stubs.campaigns.UploadRecipients(batches(c.id, recipients(TOTAL))).accepted == TOTAL
    ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
    stubs.campaigns.StartCampaign(ref)
    wait_until(
        lambda: stubs.campaigns.GetCampaign(ref).state == campaigns_pb2.CAMPAIGN_STATE_COMPLETED,
        180,
        "the campaign to complete",
    )
    return ref


def _failed(stubs: Stubs, ref: campaigns_pb2.CampaignRef) -> list[messages_pb2.Message]:
    request = messages_pb2.ListMessagesRequest(
        campaign_id=ref.campaign_id, state=messages_pb2.MESSAGE_STATE_FAILED, limit=100
    )
    return list(stubs.messages.ListMessages(request).messages)


def _the_others_arrived(sink: SmtpSink) -> None:
    others = {f"user{i}@example.com" for i in range(TOTAL)} - {POISON}
    assert {r.rcpt_to[0] for r in sink.received} == others


def test_a_message_that_crashes_its_worker_fails_after_three_deaths_and_the_rest_is_delivered(
    agent_factory: AgentFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, f"crash {POISON}")
    with SmtpSink() as sink:
        agent = agent_factory(relay_config(sink))
        stubs = agent.stubs()
        ref = _run_campaign(stubs)

        got = stubs.campaigns.GetCampaign(ref).counts
        assert (got.delivered, got.failed) == (TOTAL - 1, 1)
        [poison] = _failed(stubs, ref)
        assert poison.email == POISON and poison.last_reply == CRASHED_THE_WORKER
        events = stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=10_000)).events
        [event] = [
            e
            for e in events
            if e.email == POISON and e.type == events_pb2.EVENT_TYPE_MESSAGE_FAILED
        ]
        assert "kept for inspection" in event.attrs["shunted"]
        _the_others_arrived(sink)

        assert agent.proc is not None and agent.proc.poll() is None
        log = agent.log()
        # It was handed out exactly CRASH_LIMIT times, then never again.
        assert log.count("exited with -9") == CRASH_LIMIT
        # Workers that die young come back after a pause that grows, not in a tight loop.
        pauses = [int(p) for p in re.findall(r"restarting in (\d+) s", log)]
        assert len(pauses) == CRASH_LIMIT and 1 <= pauses[1] < pauses[2]


def test_an_exception_building_one_message_fails_that_message_and_no_worker_dies(
    agent_factory: AgentFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, f"raise {POISON}")
    with SmtpSink() as sink:
        agent = agent_factory(relay_config(sink))
        stubs = agent.stubs()
        workers = agent.workers()
        ref = _run_campaign(stubs)

        got = stubs.campaigns.GetCampaign(ref).counts
        assert (got.delivered, got.failed) == (TOTAL - 1, 1)
        [poison] = _failed(stubs, ref)
        assert poison.email == POISON and "could not build this message" in poison.last_reply
        _the_others_arrived(sink)
        assert agent.workers() == workers and "restarting" not in agent.log()


def _deaths(agent: AgentProcess) -> int:
    return agent.log().count("exited with -9")


def test_a_message_that_crashes_its_worker_while_sent_fails_after_three_deaths(
    agent_factory: AgentFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its worker dies when the message is handed to the route: the messages it was sending
    # with it each count a strike, and are then sent alone until they have an answer.
    monkeypatch.setenv(VARIABLE, f"crash-sending {POISON}")
    with SmtpSink() as sink:
        agent = agent_factory(relay_config(sink))
        stubs = agent.stubs()
        ref = _run_campaign(stubs)

        got = stubs.campaigns.GetCampaign(ref).counts
        assert (got.delivered, got.failed) == (TOTAL - 1, 1)
        [poison] = _failed(stubs, ref)
        assert poison.email == POISON and poison.last_reply == CRASHED_THE_WORKER
        _the_others_arrived(sink)
        assert _deaths(agent) == CRASH_LIMIT


def test_strikes_are_kept_with_the_message_across_a_restart_of_the_agent(
    agent_factory: AgentFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, f"crash-sending {POISON}")
    with SmtpSink() as sink:
        agent = agent_factory(relay_config(sink))
        stubs = agent.stubs()
        c = stubs.campaigns.CreateCampaign(campaign_request("poison"))
        stubs.campaigns.UploadRecipients(batches(c.id, recipients(TOTAL)))
        ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
        stubs.campaigns.StartCampaign(ref)
        wait_until(lambda: _deaths(agent) >= 1, 120, "the poison message to kill a worker")
        assert agent.terminate() == 0
        before = _deaths(agent)
        assert before < CRASH_LIMIT

        agent.start()
        after = agent.stubs()
        wait_until(
            lambda: (
                after.campaigns.GetCampaign(ref).state == campaigns_pb2.CAMPAIGN_STATE_COMPLETED
            ),
            180,
            "the campaign to complete after the restart",
        )
        [poison] = _failed(after, ref)
        assert poison.email == POISON and poison.last_reply == CRASHED_THE_WORKER
        # The strikes before the restart counted: the third death in all failed it.
        assert _deaths(agent) == CRASH_LIMIT
        _the_others_arrived(sink)
