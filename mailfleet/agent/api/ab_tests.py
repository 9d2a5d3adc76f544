"""A/B tests between ``mailfleet.v1`` and the agent's model: checked requests and results."""

from __future__ import annotations

from mailfleet.agent import validation
from mailfleet.agent.api import requests
from mailfleet.agent.api.convert import ab_test, timestamp
from mailfleet.agent.errors import InvalidArgument
from mailfleet.agent.model import AbTest, AbVariant, AbWinnerRule, Content
from mailfleet.agent.store.ab_tests import AbState
from mailfleet.v1 import campaigns_pb2, common_pb2

MAX_WAIT_HOURS = 720


def from_request(msg: campaigns_pb2.AbTest, base: Content) -> AbTest:
    """A checked A/B test; each variant's templates are compiled as the campaign's are."""
    if not 2 <= len(msg.variants) <= 4:
        raise InvalidArgument("ab_test.variants", "an A/B test has 2-4 variants")
    if not 1 <= msg.test_percent <= 100:
        raise InvalidArgument("ab_test.test_percent", "must be 1-100")
    if msg.rule not in (rule.value for rule in AbWinnerRule):
        raise InvalidArgument("ab_test.rule", "choose opens, clicks or manual")
    rule = AbWinnerRule(msg.rule)
    if rule != AbWinnerRule.MANUAL and not 1 <= msg.wait_hours <= MAX_WAIT_HOURS:
        raise InvalidArgument("ab_test.wait_hours", f"must be 1-{MAX_WAIT_HOURS}")
    variants = []
    for i, v in enumerate(msg.variants):
        field = f"ab_test.variants[{i}]"
        validation.text_line(f"{field}.from_name", v.from_name)
        requests.content(
            field,
            common_pb2.Content(
                subject=v.subject or base.subject,
                html=v.html or base.html,
                text=v.text or base.text,
                headers=base.headers,
            ),
        )
        variants.append(AbVariant(v.subject, v.from_name, v.html, v.text))
    return AbTest(tuple(variants), msg.test_percent, rule, msg.wait_hours)


def result(test: AbTest, state: AbState) -> campaigns_pb2.AbTestResult:
    """Where a campaign's test is."""
    msg = campaigns_pb2.AbTestResult(
        campaign_id=state.campaign_id,
        ab_test=ab_test(test),
        variants=[
            campaigns_pb2.AbVariantResult(
                variant=f.variant, sent=f.sent, opened=f.opened, clicked=f.clicked
            )
            for f in state.figures
        ],
        decided=state.winner is not None,
        winner=state.winner or 0,
    )
    if state.decide_at is not None:
        msg.decide_at.CopyFrom(timestamp(state.decide_at))
    return msg
