"""A campaign's A/B test on its agents: the request each part is created with, each part's
figures and winner (``GetAbTest``), and the marketer's pick sent to every part
(``PickAbWinner``). Blocking: run it off the GUI thread."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from sqlalchemy import Engine

from mailfleet.desktop.agents import registry
from mailfleet.desktop.db.models import PartState
from mailfleet.desktop.services import campaigns
from mailfleet.desktop.services.ab_tests import AbPlan, PartResult, Rule, VariantFigures
from mailfleet.v1 import campaigns_pb2

_RULES = {
    Rule.OPENS: campaigns_pb2.AB_WINNER_RULE_OPENS,
    Rule.CLICKS: campaigns_pb2.AB_WINNER_RULE_CLICKS,
    Rule.MANUAL: campaigns_pb2.AB_WINNER_RULE_MANUAL,
}


def ab_test_message(plan: AbPlan) -> campaigns_pb2.AbTest:
    """The ``AbTest`` every part of the campaign is created with."""
    return campaigns_pb2.AbTest(
        variants=[
            campaigns_pb2.AbVariant(
                subject=v.subject, from_name=v.from_name, html=v.html, text=v.text
            )
            for v in plan.variants
        ],
        test_percent=plan.test_percent,
        rule=_RULES[plan.rule],
        wait_hours=plan.wait_hours if plan.rule is not Rule.MANUAL else 0,
    )


@dataclass(frozen=True)
class AbResults:
    """The test as the desktop planned it, and what each reachable agent reports."""

    plan: AbPlan
    parts: tuple[PartResult, ...]
    unreachable: tuple[str, ...]  # agents that did not answer, with why


def _on_agent(engine: Engine, workspace_id: int, campaign_id: int) -> list[campaigns.Part]:
    with engine.connect() as conn:
        return [
            p
            for p in campaigns.parts(conn, campaign_id)
            if p.agent_campaign_id is not None and p.state is not PartState.MOVED
        ]


def _plan(engine: Engine, workspace_id: int, campaign_id: int) -> AbPlan:
    with engine.connect() as conn:
        plan = AbPlan.from_json(campaigns.get(conn, workspace_id, campaign_id).ab_test)
    if plan is None:
        raise campaigns.CampaignError("this campaign has no A/B test")
    return plan


def _part_result(agent: str, msg: campaigns_pb2.AbTestResult) -> PartResult:
    figures = tuple(VariantFigures(v.sent, v.opened, v.clicked) for v in msg.variants)
    return PartResult(agent, figures, msg.winner if msg.decided else None)


def _each_part(engine: Engine, workspace_id: int, campaign_id: int, pick: int | None) -> AbResults:
    plan = _plan(engine, workspace_id, campaign_id)
    parts: list[PartResult] = []
    unreachable: list[str] = []
    for part in _on_agent(engine, workspace_id, campaign_id):
        with engine.connect() as conn:
            record = registry.get_agent(conn, workspace_id, part.agent_id)
        try:
            with registry.stubs(record) as agent:
                assert part.agent_campaign_id is not None
                if pick is None:
                    msg = agent.campaigns.GetAbTest(
                        campaigns_pb2.CampaignRef(campaign_id=part.agent_campaign_id),
                        timeout=registry.CALL_TIMEOUT,
                    )
                else:
                    msg = agent.campaigns.PickAbWinner(
                        campaigns_pb2.PickAbWinnerRequest(
                            campaign_id=part.agent_campaign_id, variant=pick
                        ),
                        timeout=registry.CALL_TIMEOUT,
                    )
            parts.append(_part_result(record.name, msg))
        except grpc.RpcError as exc:
            unreachable.append(f"{record.name}: {registry.describe_rpc_error(exc)}")
        except (registry.AgentError, registry.FingerprintMismatch) as exc:
            unreachable.append(f"{record.name}: {exc}")
    return AbResults(plan, tuple(parts), tuple(unreachable))


def read(engine: Engine, workspace_id: int, campaign_id: int) -> AbResults:
    """Each part's figures and winner, as its agent reports them now."""
    return _each_part(engine, workspace_id, campaign_id, None)


def pick_winner(engine: Engine, workspace_id: int, campaign_id: int, variant: int) -> AbResults:
    """Tell every part's agent to send the rest ``variant``; the results as they answer."""
    return _each_part(engine, workspace_id, campaign_id, variant)
