"""Routing in a real agent: rules edited over gRPC pick routes per message; failover between
two local MX stand-ins loses and duplicates nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from mailfleet.v1 import (
    admin_pb2,
    campaigns_pb2,
    capture_pb2,
    common_pb2,
    events_pb2,
    routing_pb2,
)
from tests.agent.builders import batches, campaign_request, recipients, transactional, wait_until
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.smtp import SmtpSink, free_port

AgentFactory = Callable[[str], AgentProcess]
SECRET = "relay-password-123"
CampaignState = campaigns_pb2.CampaignState


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


def run_campaign(
    stubs: Stubs, rows: list[common_pb2.Recipient], key: str, tags: tuple[str, ...] = ()
) -> int:
    request = campaign_request(key)
    if tags:
        del request.tags[:]
        request.tags.extend(tags)
    c = stubs.campaigns.CreateCampaign(request)
    summary = stubs.campaigns.UploadRecipients(batches(c.id, rows, size=1000))
    assert summary.accepted == len(rows)
    ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
    stubs.campaigns.StartCampaign(ref)
    final = list(stubs.campaigns.WatchCampaign(ref, timeout=120))[-1]
    assert final.state == CampaignState.CAMPAIGN_STATE_COMPLETED
    return c.id


def events_of(stubs: Stubs, kind: int) -> list[events_pb2.Event]:
    listed = stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=10000)).events
    return [e for e in listed if e.type == kind]


def relay(name: str, port: int, extra: str = "") -> str:
    return (
        f'[routes.{name}]\ntype = "smtp"\nhost = "127.0.0.1"\nport = {port}\ntls = "none"\n{extra}'
    )


@pytest.fixture
def auth_sink() -> Iterator[SmtpSink]:
    with SmtpSink(users={"u": SECRET}) as s:
        yield s


@pytest.fixture
def agent_with_relay_secret(tmp_path: Path, auth_sink: SmtpSink) -> Iterator[AgentProcess]:
    """An agent whose relay password sits in a 0600 file of its data directory."""
    config = '[delivery]\nworkers = 2\n\n[routes.capture]\ntype = "capture"\n\n' + relay(
        "relay", auth_sink.port, 'username = "u"\npassword_file = "relay.pw"\n'
    )
    agent = AgentProcess(tmp_path / "agent", extra_config=config)
    password = agent.data_dir / "relay.pw"
    password.write_text(SECRET)
    password.chmod(0o600)
    try:
        agent.start()
        yield agent
    finally:
        agent.close()


def test_rules_edited_over_grpc_route_each_message(
    agent_with_relay_secret: AgentProcess, auth_sink: SmtpSink
) -> None:
    sink = auth_sink
    agent = agent_with_relay_secret
    stubs = agent.stubs()
    secret = SECRET

    routes = {r.name: r for r in stubs.routing.ListRoutes(routing_pb2.ListRoutesRequest()).routes}
    assert set(routes) == {"capture", "relay"}
    assert routes["relay"].type == "smtp" and routes["relay"].has_secret
    assert routes["relay"].settings["port"] == str(sink.port)
    assert "password_file" not in routes["relay"].settings
    assert secret not in str(routes) and secret not in agent.log()

    before = stubs.routing.GetRules(routing_pb2.GetRulesRequest())
    assert (before.version, list(before.rules), before.default_route) == (0, [], "capture")

    vip = routing_pb2.RoutingRule(
        name="vip", tags=["vip"], lane=routing_pb2.ROUTING_LANE_BULK, route="relay"
    )
    receipts = routing_pb2.RoutingRule(
        name="receipts",
        lane=routing_pb2.ROUTING_LANE_TRANSACTIONAL,
        recipient_domains=["*.org"],
        route="relay",
    )
    after = stubs.routing.SetRules(
        routing_pb2.SetRulesRequest(rules=[vip, receipts], expected_version=0)
    )
    assert after.version == 1 and [r.name for r in after.rules] == ["vip", "receipts"]

    explained = stubs.routing.ExplainRoute(
        routing_pb2.ExplainRouteRequest(tags=["vip"], recipient_domain="a.com")
    )
    assert (explained.rule, explained.route) == ("vip", "relay")

    run_campaign(stubs, recipients(20, domain="vip.example"), "vip", tags=("vip",))
    run_campaign(stubs, recipients(15, domain="plain.example"), "plain", tags=("autumn",))
    stubs.transactional.SendMessage(transactional("t1", "buyer@shop.org"))
    stubs.transactional.SendMessage(transactional("t2", "buyer@shop.com"))

    got = sink.wait_for(21)
    assert sorted(r.rcpt_to[0] for r in got) == sorted(
        [f"user{i}@vip.example" for i in range(20)] + ["buyer@shop.org"]
    )
    wait_until(
        lambda: (
            len(stubs.capture.ListCaptured(capture_pb2.ListCapturedRequest(limit=100)).messages)
            == 16
        ),
        30,
        "the captured messages",
    )
    captured = stubs.capture.ListCaptured(capture_pb2.ListCapturedRequest(limit=100)).messages
    assert sorted(m.rcpt_to for m in captured) == sorted(
        [f"user{i}@plain.example" for i in range(15)] + ["buyer@shop.com"]
    )
    delivered = events_of(stubs, events_pb2.EVENT_TYPE_MESSAGE_DELIVERED)
    by_email = {e.email: e.attrs["route"] for e in delivered}
    assert by_email["user3@vip.example"] == "relay" and by_email["buyer@shop.org"] == "relay"
    assert by_email["user3@plain.example"] == "capture"

    # The rules outlive a restart.
    agent.terminate()
    agent.start()
    stubs = agent.stubs()
    kept = stubs.routing.GetRules(routing_pb2.GetRulesRequest())
    assert kept.version == 1 and [r.name for r in kept.rules] == ["vip", "receipts"]


def test_bad_rule_edits_are_refused_and_change_nothing(
    admin: Stubs, agent_process: AgentProcess
) -> None:
    bad = [
        (routing_pb2.RoutingRule(route="nope"), "rules[0].route"),
        (
            routing_pb2.RoutingRule(route="capture", recipient_domains=["a b"]),
            "rules[0].recipient_domains",
        ),
        (routing_pb2.RoutingRule(route="capture", failover="capture"), "rules[0]"),
    ]
    for rule, field in bad:
        with pytest.raises(grpc.RpcError) as err:
            admin.routing.SetRules(routing_pb2.SetRulesRequest(rules=[rule]))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (err.value.details() or "").startswith(field), err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        admin.routing.SetRules(routing_pb2.SetRulesRequest(rules=[], expected_version=7))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert admin.routing.GetRules(routing_pb2.GetRulesRequest()).version == 0

    tenant = admin.admin.CreateTenant(admin_pb2.CreateTenantRequest(name="acme"))
    key = admin.admin.CreateApiKey(admin_pb2.CreateApiKeyRequest(tenant_id=tenant.id, name="k"))
    user = agent_process.stubs(key.secret)
    with pytest.raises(grpc.RpcError) as err:
        user.routing.GetRules(routing_pb2.GetRulesRequest())
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_failover_between_two_mx_stand_ins_loses_and_duplicates_nothing(
    agent_factory: AgentFactory, sink: SmtpSink
) -> None:
    refusing = free_port()  # the first stand-in: nothing listens, connections are refused
    config = (
        "[delivery]\nworkers = 2\nretry_base_seconds = 0.3\nretry_max_seconds = 0.6\n\n"
        '[routes.capture]\ntype = "capture"\n\n'
        + relay("mx-a", refusing)
        + "\n"
        + relay("mx-b", sink.port)
        + '\n[[routing.rules]]\nname = "all"\nrecipient_domains = ["*"]\nroute = "mx-a"\n'
        'failover = "mx-b"\nfailover_after_seconds = 1.0\n'
    )
    agent = agent_factory(config)
    stubs = agent.stubs()
    run_campaign(stubs, recipients(200), "fo")

    got = sink.wait_for(200)
    assert sorted(r.rcpt_to[0] for r in got) == sorted(f"user{i}@example.com" for i in range(200))
    assert sink.duplicates() == []
    delivered = events_of(stubs, events_pb2.EVENT_TYPE_MESSAGE_DELIVERED)
    assert len(delivered) == 200 and {e.attrs["route"] for e in delivered} == {"mx-b"}
    # Before the threshold the first route's refusals were ordinary deferrals.
    deferred = events_of(stubs, events_pb2.EVENT_TYPE_MESSAGE_DEFERRED)
    assert deferred and {e.attrs["route"] for e in deferred} == {"mx-a"}
    assert all("refused" in e.attrs["reply"].lower() for e in deferred)
