"""Routing rules: first match wins, every condition and wildcard, MX rollup, weighted splits."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from pydantic import ValidationError

from mailfleet.agent.config import AgentSettings
from mailfleet.agent.routes.base import OutcomeKind
from mailfleet.agent.routes.capture import Capture
from mailfleet.agent.routes.settings import (
    CaptureRoute,
    DirectMxRoute,
    RouteSettings,
    SmtpRelayRoute,
    SplitRoute,
    domain_matches,
)
from mailfleet.agent.routing.router import Router
from mailfleet.agent.routing.rules import MessageFacts, Plan, RoutingTable, choose
from mailfleet.agent.routing.settings import RoutingRule
from mailfleet.agent.routing.split import Split
from mailfleet.agent.routing.table import (
    RoutingState,
    RulesError,
    StaleVersion,
    check_table,
    parse_rules,
)
from tests.agent.routes.conftest import envelope


def facts(**overrides: object) -> MessageFacts:
    values: dict[str, object] = {
        "tenant": "default",
        "sender_domain": "shop.example",
        "recipient_domain": "example.com",
        "tags": (),
        "transactional": False,
    }
    values.update(overrides)
    return MessageFacts(**values)  # type: ignore[arg-type]


def table(*rules: RoutingRule) -> RoutingTable:
    return RoutingTable(rules, "capture")


def test_domain_wildcards() -> None:
    assert domain_matches("example.com", ["example.com"])
    assert domain_matches("Example.COM.", ["example.com"])
    assert not domain_matches("mail.example.com", ["example.com"])
    assert domain_matches("mail.example.com", ["*.example.com"])
    assert domain_matches("a.b.example.com", ["*.example.com"])
    assert not domain_matches("example.com", ["*.example.com"])
    assert not domain_matches("badexample.com", ["*.example.com"])
    assert domain_matches("anything.org", ["nope.test", "*"])


def test_first_matching_rule_wins_and_unmatched_mail_takes_the_default() -> None:
    rules = table(
        RoutingRule(name="receipts", lane="transactional", route="ses", failover="relay"),
        RoutingRule(name="gmail", recipient_domains=["gmail.com", "*.gmail.com"], route="ip1"),
        RoutingRule(name="all", recipient_domains=["*"], lane="bulk", route="bulk"),
    )
    plan = choose(rules, facts(transactional=True, recipient_domain="gmail.com"))
    assert plan == Plan("receipts", "ses", "relay", 300.0)
    assert choose(rules, facts(recipient_domain="gmail.com")).rule == "gmail"
    assert choose(rules, facts(recipient_domain="other.org")).route == "bulk"
    assert choose(table(), facts()) == Plan("default", "capture")


@pytest.mark.parametrize(
    ("rule", "matching", "other"),
    [
        ({"tenants": ["acme"]}, {"tenant": "acme"}, {"tenant": "default"}),
        (
            {"sender_domains": ["*.brand.example"]},
            {"sender_domain": "news.brand.example"},
            {"sender_domain": "brand.example"},
        ),
        ({"tags": ["promo", "vip"]}, {"tags": ("x", "vip")}, {"tags": ("x",)}),
        ({"lane": "bulk"}, {"transactional": False}, {"transactional": True}),
        ({"lane": "transactional"}, {"transactional": True}, {"transactional": False}),
    ],
)
def test_each_condition_decides(
    rule: dict[str, object], matching: dict[str, object], other: dict[str, object]
) -> None:
    rules = table(RoutingRule.model_validate({**rule, "route": "relay"}))
    assert choose(rules, facts(**matching)).route == "relay"
    assert choose(rules, facts(**other)).route == "capture"


def test_every_condition_of_a_rule_must_hold() -> None:
    rules = table(RoutingRule(tenants=["acme"], tags=["vip"], route="relay"))
    assert choose(rules, facts(tenant="acme", tags=("vip",))).route == "relay"
    assert choose(rules, facts(tenant="acme")).route == "capture"
    assert choose(rules, facts(tags=("vip",))).route == "capture"


def test_mx_rollup_matches_every_domain_hosted_by_a_provider() -> None:
    google = RoutingRule(recipient_mx=["*.google.com", "*.googlemail.com"], route="google-ips")
    rules = table(google)
    assert rules.needs_mx and not table().needs_mx
    hosted = ["aspmx.l.google.com", "alt1.aspmx.l.google.com"]
    assert choose(rules, facts(recipient_domain="startup.io"), hosted).route == "google-ips"
    assert choose(rules, facts(recipient_domain="x.org"), ["mx.x.org"]).route == "capture"
    assert choose(rules, facts(recipient_domain="x.org"), []).route == "capture"


def test_bad_rules_are_refused_with_the_field_named() -> None:
    with pytest.raises(RulesError, match=r"rules\[1\]\.recipient_domains"):
        parse_rules([{"route": "a"}, {"route": "a", "recipient_domains": ["exa mple.com"]}])
    with pytest.raises(RulesError, match=r"rules\[0\]\.route"):
        parse_rules([{"recipient_domains": ["x.com"]}])
    with pytest.raises(RulesError, match="failover must be another route"):
        parse_rules([{"route": "a", "failover": "a"}])
    with pytest.raises(RulesError, match=r"rules\[0\]\.failover: no route named 'nope'"):
        check_table(
            RoutingTable((RoutingRule(route="capture", failover="nope"),), "capture"),
            {"capture": CaptureRoute()},
        )
    with pytest.raises(RulesError, match="default_route"):
        check_table(RoutingTable((), "gone"), {"capture": CaptureRoute()})
    with pytest.raises(RulesError, match="split over"):
        check_table(
            RoutingTable((), "capture"),
            {"capture": CaptureRoute(), "s": SplitRoute(routes={"capture": 1, "gone": 1})},
        )
    with pytest.raises(ValidationError):
        SplitRoute(routes={"a": 0})


async def test_a_split_keeps_its_weights_and_each_messages_route() -> None:
    a, b = Capture("a"), Capture("b")
    split = Split("s", [(a, 3), (b, 1)])
    batch = [envelope(i) for i in range(4000)]
    outcomes = await split.deliver(batch)
    assert sorted(o.message_id for o in outcomes) == list(range(4000))
    shares = Counter(o.route for o in outcomes)
    assert 2800 < shares["a"] < 3200 and shares["a"] + shares["b"] == 4000
    again = await split.deliver(batch)
    assert {o.message_id: o.route for o in again} == {o.message_id: o.route for o in outcomes}


def test_rules_set_over_the_api_are_kept_and_versioned(tmp_path: Path) -> None:
    settings = AgentSettings(
        data_dir=tmp_path,
        routes={"capture": CaptureRoute(), "relay": SmtpRelayRoute(host="relay.test")},
        routing={"rules": [{"route": "relay", "tags": ["x"]}]},
    )
    state = RoutingState(settings)
    assert state.table.version == 0 and state.table.rules[0].route == "relay"
    new = state.replace((RoutingRule(route="capture", tenants=["t"]),), expected_version=0)
    assert new.version == 1
    with pytest.raises(StaleVersion):
        state.replace((), expected_version=0)
    with pytest.raises(RulesError, match="no route named 'ses'"):
        state.replace((RoutingRule(route="ses"),), expected_version=None)
    assert state.table == new
    path = tmp_path / "routing.json"
    assert path.stat().st_mode & 0o777 == 0o600
    reloaded = RoutingState(settings)
    assert reloaded.table == new


def test_a_reload_takes_the_configs_new_rules_unless_the_api_set_them(tmp_path: Path) -> None:
    routes = {"capture": CaptureRoute(), "relay": SmtpRelayRoute(host="relay.test")}
    settings = AgentSettings(
        data_dir=tmp_path, routes=routes, routing={"rules": [{"route": "relay"}]}
    )
    state = RoutingState(settings)
    edited = settings.model_copy(
        update={
            "routing": settings.routing.model_copy(update={"rules": [RoutingRule(route="capture")]})
        }
    )
    table = state.reload(edited)
    assert table.rules[0].route == "capture" and table.version == 1
    assert state.reload(edited).version == 1  # nothing changed: the same version
    gone = edited.model_copy(update={"routes": {"relay": routes["relay"]}})
    with pytest.raises(RulesError, match="no route named 'capture'"):
        state.reload(gone)
    assert state.table == table and set(state.routes) == {"capture", "relay"}
    # Rules set over the API stay in force over the config's.
    by_api = state.replace((RoutingRule(route="relay", tags=["api"]),), expected_version=1)
    assert state.reload(edited) == by_api


async def test_a_pool_goes_by_the_first_route_that_sends_from_it() -> None:
    configs: dict[str, RouteSettings] = {
        "relay": SmtpRelayRoute(host="relay.test"),
        "mx": DirectMxRoute(pool="bulk"),
        "mx2": DirectMxRoute(pool="bulk"),
    }
    router = Router(RoutingTable((), "relay"), {}, configs, [])
    assert router.pool_route("bulk") == "mx"
    # A pool no route sends from any more (a reload after the message was queued) fails it.
    [outcome] = await router.route(router.pool_route("gone")).deliver([envelope(1, "a@b.test")])
    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.reply == "no direct MX route sends from IP pool 'gone'"


def test_only_direct_mx_plans_are_delivered_a_recipient_domain_at_a_time() -> None:
    configs: dict[str, RouteSettings] = {
        "relay": SmtpRelayRoute(host="relay.test"),
        "capture": CaptureRoute(),
        "mx": DirectMxRoute(),
    }
    router = Router(RoutingTable((), "relay"), {}, configs, [])
    # A relay, a provider or the capture mailbox is one destination whatever the recipients.
    assert not router.per_domain(Plan("default", "relay"))
    assert not router.per_domain(Plan("r", "relay", failover="capture"))
    # By direct MX each domain is its own destination, also when MX is only the failover.
    assert router.per_domain(Plan("r", "mx"))
    assert router.per_domain(Plan("r", "relay", failover="mx", failover_after_seconds=60))
    assert not router.per_domain(Plan("r", "gone"))
