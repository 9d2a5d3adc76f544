"""A/B tests on a real agent sending to a real SMTP sink: the test share gets the variants,
people's clicks (real requests to the agent's tracking endpoint) pick the winner when the
agent's clock (moved by the test, never slept through) reaches the deadline, and the rest
gets only the winner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from mailfleet.v1 import campaigns_pb2, common_pb2
from tests.agent.builders import batches, campaign_request, relay_config, wait_until
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.clicks import BROWSER, SCANNER, click, subject
from tests.peers.smtp import SmtpSink

HTML = '<p>Hi {{ first_name }}, see <a href="https://shop.example/sale">the sale</a>.</p>'


def _ab_test(rule: campaigns_pb2.AbWinnerRule.ValueType, percent: int = 40) -> campaigns_pb2.AbTest:
    return campaigns_pb2.AbTest(
        variants=[
            campaigns_pb2.AbVariant(subject="Subject A"),
            campaigns_pb2.AbVariant(subject="Subject B", from_name="Ann at Shop"),
        ],
        test_percent=percent,
        rule=rule,
        wait_hours=4,
    )


def _start(stubs: Stubs, test: campaigns_pb2.AbTest, n: int) -> campaigns_pb2.CampaignRef:
    c = stubs.campaigns.CreateCampaign(
        campaign_request(
            "ab-1", content=common_pb2.Content(subject="Base", html=HTML), ab_test=test
        )
    )
    rows = [
        common_pb2.Recipient(email=f"r{i}@example.com", values=["Ann", "Paris"]) for i in range(n)
    ]
    stubs.campaigns.UploadRecipients(batches(c.id, rows))
    ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
    stubs.campaigns.StartCampaign(ref)
    return ref


def test_more_clicks_win_and_the_rest_gets_only_the_winner(
    agent_factory: Callable[[str], AgentProcess], clock_file: Path
) -> None:
    with SmtpSink() as sink:
        agent = agent_factory(relay_config(sink))
        stubs = agent.stubs()
        ref = _start(stubs, _ab_test(campaigns_pb2.AB_WINNER_RULE_CLICKS), 50)
        wait_until(lambda: len(sink.received) >= 20, 30, "the test share to arrive")
        share = sink.received
        by_subject = {s: [r for r in share if subject(r) == s] for s in ("Subject A", "Subject B")}
        # 40 % of 50, dealt evenly; nobody got the campaign's own subject.
        assert [len(v) for v in by_subject.values()] == [10, 10]
        # People click B's link three times, A's once; a link scanner clicks A's three times.
        for r in by_subject["Subject B"][:3]:
            click(agent, r, BROWSER)
        click(agent, by_subject["Subject A"][0], BROWSER)
        for r in by_subject["Subject A"][1:4]:
            click(agent, r, SCANNER)

        def clicked() -> list[int]:
            return [v.clicked for v in stubs.campaigns.GetAbTest(ref).variants]

        wait_until(lambda: clicked() == [1, 3], 30, "the clicks to be counted")
        # The remainder waits for the winner: nothing more was sent.
        result = stubs.campaigns.GetAbTest(ref)
        assert not result.decided
        assert [v.sent for v in result.variants] == [10, 10]
        counts = stubs.campaigns.GetCampaign(ref).counts
        assert (counts.delivered, counts.queued) == (20, 30)
        assert len(sink.received) == 20

        clock_file.write_text(str(5 * 3600))  # past the 4 hours
        wait_until(
            lambda: (
                stubs.campaigns.GetCampaign(ref).state == campaigns_pb2.CAMPAIGN_STATE_COMPLETED
            ),
            30,
            "the campaign to complete",
        )
        result = stubs.campaigns.GetAbTest(ref)
        assert (result.decided, result.winner) == (True, 1)
        rest = sink.received[20:]
        assert len(rest) == 30
        assert {subject(r) for r in rest} == {"Subject B"}
        assert all(b"Ann at Shop" in r.data for r in rest)
        assert {r.rcpt_to for r in rest}.isdisjoint({r.rcpt_to for r in share})


def test_a_manual_test_waits_for_the_marketers_pick(
    agent_factory: Callable[[str], AgentProcess], clock_file: Path
) -> None:
    with SmtpSink() as sink:
        agent = agent_factory(relay_config(sink))
        stubs = agent.stubs()
        ref = _start(stubs, _ab_test(campaigns_pb2.AB_WINNER_RULE_MANUAL, percent=50), 8)
        wait_until(lambda: len(sink.received) >= 4, 30, "the test share to arrive")
        clock_file.write_text(str(365 * 24 * 3600))  # no deadline: a year later, still waiting
        wait_until(
            lambda: stubs.campaigns.GetAbTest(ref).variants[0].sent == 2, 30, "the share counted"
        )
        assert not stubs.campaigns.GetAbTest(ref).decided
        assert not stubs.campaigns.GetAbTest(ref).HasField("decide_at")
        with pytest.raises(grpc.RpcError) as refused:
            stubs.campaigns.PickAbWinner(
                campaigns_pb2.PickAbWinnerRequest(campaign_id=ref.campaign_id, variant=2)
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        picked = stubs.campaigns.PickAbWinner(
            campaigns_pb2.PickAbWinnerRequest(campaign_id=ref.campaign_id, variant=0)
        )
        assert (picked.decided, picked.winner) == (True, 0)
        wait_until(lambda: len(sink.received) == 8, 30, "the remainder to arrive")
        assert {subject(r) for r in sink.received[4:]} == {"Subject A"}
        with pytest.raises(grpc.RpcError) as again:
            stubs.campaigns.PickAbWinner(
                campaigns_pb2.PickAbWinnerRequest(campaign_id=ref.campaign_id, variant=1)
            )
        assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda t: t.variants.pop(), "ab_test.variants"),
        (lambda t: setattr(t, "test_percent", 0), "ab_test.test_percent"),
        (lambda t: setattr(t, "rule", 0), "ab_test.rule"),
        (lambda t: setattr(t, "wait_hours", 0), "ab_test.wait_hours"),
        (lambda t: setattr(t.variants[1], "subject", "{{ oops"), "ab_test.variants[1].subject"),
    ],
)
def test_a_wrong_ab_test_is_refused(
    shared_agent: AgentProcess, change: Callable[[campaigns_pb2.AbTest], object], field: str
) -> None:
    test = _ab_test(campaigns_pb2.AB_WINNER_RULE_OPENS)
    change(test)
    with pytest.raises(grpc.RpcError) as refused:
        shared_agent.stubs().campaigns.CreateCampaign(
            campaign_request(f"bad-{field}", ab_test=test)
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in str(refused.value.details())


def test_a_campaign_without_a_test_has_no_result(shared_agent: AgentProcess) -> None:
    stubs = shared_agent.stubs()
    c = stubs.campaigns.CreateCampaign(campaign_request("plain"))
    assert not stubs.campaigns.GetCampaign(campaigns_pb2.CampaignRef(campaign_id=c.id)).HasField(
        "ab_test"
    )
    with pytest.raises(grpc.RpcError) as refused:
        stubs.campaigns.GetAbTest(campaigns_pb2.CampaignRef(campaign_id=c.id))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
