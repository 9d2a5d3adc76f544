"""Send windows on a real agent sending to a real SMTP sink: a campaign with a window sends
nothing while the agent's clock (moved by the test, never slept through) is outside it, and
everything once inside."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from mailfleet.v1 import campaigns_pb2, common_pb2
from tests.agent.builders import batches, campaign_request, relay_config, wait_until
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.clock import coming, move_clock
from tests.peers.smtp import SmtpSink

WEEKDAYS_8_TO_20 = campaigns_pb2.SendWindow(
    weekdays=[1, 2, 3, 4, 5], start_minute=8 * 60, end_minute=20 * 60, time_zone="Europe/Berlin"
)


def _start(stubs: Stubs, key: str, domain: str, **fields: object) -> campaigns_pb2.CampaignRef:
    c = stubs.campaigns.CreateCampaign(campaign_request(key, **fields))
    rows = [common_pb2.Recipient(email=f"r{i}@{domain}", values=["Ann", "Paris"]) for i in range(5)]
    stubs.campaigns.UploadRecipients(batches(c.id, rows))
    ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
    stubs.campaigns.StartCampaign(ref)
    return ref


def _delivered(stubs: Stubs, ref: campaigns_pb2.CampaignRef) -> int:
    return stubs.campaigns.GetCampaign(ref).counts.delivered


def test_a_windowed_campaign_sends_nothing_outside_its_window(
    agent_factory: Callable[[str], AgentProcess], clock_file: Path
) -> None:
    with SmtpSink() as sink:
        stubs = agent_factory(relay_config(sink)).stubs()
        move_clock(clock_file, coming(6, 12))  # a Saturday noon
        windowed = _start(stubs, "windowed", "window.example", send_window=WEEKDAYS_8_TO_20)
        assert stubs.campaigns.GetCampaign(windowed).send_window == WEEKDAYS_8_TO_20
        # A campaign started after it, without a window, is sent meanwhile: the scheduler
        # passed over the windowed one, which is still all queued.
        plain = _start(stubs, "plain-1", "plain.example")
        wait_until(lambda: _delivered(stubs, plain) == 5, 30, "the plain campaign")
        assert stubs.campaigns.GetCampaign(windowed).counts.queued == 5
        move_clock(clock_file, coming(1, 20, 30))  # a Monday, after 20:00
        later = _start(stubs, "plain-2", "later.example")
        wait_until(lambda: _delivered(stubs, later) == 5, 30, "the second plain campaign")
        assert stubs.campaigns.GetCampaign(windowed).counts.queued == 5
        assert not any(r.rcpt_to[0].endswith("@window.example") for r in sink.received)

        move_clock(clock_file, coming(1, 9))  # a Monday at 09:00
        wait_until(lambda: _delivered(stubs, windowed) == 5, 30, "the windowed campaign")
        assert sum(r.rcpt_to[0].endswith("@window.example") for r in sink.received) == 5


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda w: w.ClearField("weekdays"), "send_window.weekdays"),
        (lambda w: w.weekdays.append(8), "send_window.weekdays"),
        (lambda w: setattr(w, "start_minute", 1440), "send_window.start_minute"),
        (lambda w: setattr(w, "end_minute", 8 * 60), "send_window.end_minute"),
        (lambda w: setattr(w, "time_zone", "Mars/Olympus"), "send_window.time_zone"),
    ],
)
def test_a_wrong_window_is_refused(
    shared_agent: AgentProcess, change: Callable[[campaigns_pb2.SendWindow], object], field: str
) -> None:
    window = campaigns_pb2.SendWindow()
    window.CopyFrom(WEEKDAYS_8_TO_20)
    change(window)
    with pytest.raises(grpc.RpcError) as refused:
        shared_agent.stubs().campaigns.CreateCampaign(
            campaign_request(f"bad-{field}-{len(window.weekdays)}", send_window=window)
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in str(refused.value.details())
