"""IP pools for direct MX: weighted round robin over source addresses, per-address HELO,
warm-up quotas that hold the rest until tomorrow, and the campaign's estimated finish."""

from __future__ import annotations

import datetime
from collections import Counter
from pathlib import Path

import grpc
import pytest

from mailfleet.agent.routes.base import OutcomeKind
from mailfleet.agent.routes.direct_mx import DirectMx
from mailfleet.agent.routes.settings import (
    DirectMxRoute,
    IpPool,
    IpPoolsSettings,
    LimitsSettings,
    PoolAddress,
)
from mailfleet.agent.routes.source_ips import (
    SourcePool,
    WeightedRoundRobin,
    seconds_until_tomorrow,
    sent_today,
    warmup_quota,
)
from mailfleet.agent.routing.estimate import estimate, finish_day
from mailfleet.agent.routing.rules import MessageFacts, RoutingTable
from mailfleet.v1 import campaigns_pb2, events_pb2, messages_pb2, routing_pb2
from tests.agent.builders import batches, campaign_request, recipients, wait_until
from tests.agent.routes.conftest import SinkFactory, envelope
from tests.peers.agent import AgentProcess
from tests.peers.dns import LocalDns
from tests.peers.small_disk import SmallDisk
from tests.peers.smtp import SmtpSink, free_port

TODAY = datetime.datetime.now(datetime.UTC).date()


def test_warmup_quota_follows_the_plan_day_by_day() -> None:
    plan = [50, 100, 500]
    start = datetime.date(2026, 11, 20)
    assert warmup_quota(plan, start, datetime.date(2026, 11, 19)) == 0
    assert warmup_quota(plan, start, start) == 50
    assert warmup_quota(plan, start, datetime.date(2026, 11, 22)) == 500
    assert warmup_quota(plan, start, datetime.date(2026, 11, 23)) is None
    noon = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.UTC)
    assert seconds_until_tomorrow(noon) == 12 * 3600


def test_weighted_round_robin_interleaves_by_weight() -> None:
    a = PoolAddress(address="192.0.2.1", weight=3)
    b = PoolAddress(address="192.0.2.2", weight=1)
    wrr = WeightedRoundRobin([a, b])
    picks = [wrr.pick({a.address, b.address}) for _ in range(8)]
    assert [p.address if p else "" for p in picks[:4]].count("192.0.2.2") == 1
    assert Counter(p.address for p in picks if p) == {"192.0.2.1": 6, "192.0.2.2": 2}
    assert wrr.pick({b.address}) == b and wrr.pick(set()) is None


def pool_settings(plan: list[int], start: datetime.date = TODAY) -> IpPoolsSettings:
    return IpPoolsSettings(
        plans={"new": plan},
        pools={
            "bulk": IpPool(
                addresses=[
                    PoolAddress(
                        address="127.0.0.2",
                        helo="mta1.test",
                        weight=3,
                        warmup="new",
                        warmup_start=start,
                    ),
                    PoolAddress(
                        address="127.0.0.3",
                        helo="mta2.test",
                        weight=1,
                        warmup="new",
                        warmup_start=start,
                    ),
                ]
            )
        },
    )


def test_a_workers_share_of_the_quota_survives_a_restart(tmp_path: Path) -> None:
    settings = pool_settings([10])
    state = tmp_path / "warmup" / "w0.json"
    now = datetime.datetime.now(datetime.UTC)
    pool = SourcePool("bulk", settings.pools["bulk"], settings, share=0.5, state_file=state)
    first = pool.assign(8, now)
    pool.save()
    # Half of 10 per address for this worker: 10 in all, the rest has none.
    assert [e.address if e else None for e in first].count(None) == 0
    again = SourcePool("bulk", settings.pools["bulk"], settings, share=0.5, state_file=state)
    more = again.assign(4, now)
    assert sum(1 for e in more if e is not None) == 2 and more[-1] is None
    again.save()
    assert sent_today(tmp_path / "warmup", now.date()) == {"bulk": 10}


def test_a_full_disk_keeps_the_counts_in_memory_until_they_can_be_saved(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = pool_settings([10])
    now = datetime.datetime.now(datetime.UTC)
    with SmallDisk(tmp_path / "data", mib=1) as disk:
        state = disk.path / "warmup" / "w0.json"
        pool = SourcePool("bulk", settings.pools["bulk"], settings, state_file=state)
        pool.assign(3, now)
        disk.fill()
        pool.save()  # does not raise: delivery goes on
        pool.assign(2, now)
        pool.save()
        warnings = [r for r in caplog.records if "cannot be saved" in r.getMessage()]
        assert len(warnings) == 1 and "no space left on device" in warnings[0].getMessage()
        disk.free()
        pool.save()
        assert sent_today(disk.path / "warmup", now.date()) == {"bulk": 5}


def test_the_estimate_counts_days_of_warm_up() -> None:
    pools = pool_settings([10, 20, 40])
    assert finish_day(pools, "bulk", 20, TODAY, 0) == TODAY  # 2 x 10 today
    assert finish_day(pools, "bulk", 30, TODAY, 5) == TODAY + datetime.timedelta(days=1)
    routes = {
        "mx": DirectMxRoute(pool="bulk"),
        "relay": DirectMxRoute(),
    }
    table = RoutingTable((), "mx")
    now = datetime.datetime.combine(TODAY, datetime.time(9), tzinfo=datetime.UTC)
    found = estimate(
        by_domain={"a.test": 100, "b.test": 50},
        facts=MessageFacts("default", "shop.example", "", (), False),
        table=table,
        routes=routes,
        pools=pools,
        now=now,
        sent_today={"bulk": 20},
    )
    # 150 to send: none left today, 40 tomorrow, 80 the day after; the last 30 on day 4,
    # when the plan has ended and the addresses have no limit.
    [route] = found.routes
    assert (route.route, route.pool, route.remaining, route.today_capacity) == (
        "mx",
        "bulk",
        150,
        0,
    )
    end = datetime.datetime.combine(
        TODAY + datetime.timedelta(days=4), datetime.time(), tzinfo=datetime.UTC
    )
    assert route.finish_by == end == found.finish_by


@pytest.fixture
def mx_world(local_dns: LocalDns, make_sink: SinkFactory) -> tuple[LocalDns, SmtpSink]:
    port = free_port("127.0.0.10")
    sink = make_sink(host="127.0.0.10", port=port)
    local_dns.add("pooled.test", "MX", "10 mx.pooled.test.")
    local_dns.add("mx.pooled.test", "A", "127.0.0.10")
    return local_dns, sink


def pooled_route(dns: LocalDns, sink: SmtpSink, pools: IpPoolsSettings, tmp: Path) -> DirectMx:
    settings = DirectMxRoute(
        resolvers=[f"127.0.0.1:{dns.port}"],
        port=sink.port,
        tls="none",
        pool="bulk",
        timeout_seconds=5.0,
    )
    source = SourcePool("bulk", pools.pools["bulk"], pools, state_file=tmp / "w.json")
    return DirectMx("mx", settings, LimitsSettings(), helo="agent.test", sources=source)


async def test_a_pool_sends_from_each_address_by_weight_with_its_helo(
    mx_world: tuple[LocalDns, SmtpSink], tmp_path: Path
) -> None:
    dns, sink = mx_world
    pools = pool_settings([1000])
    route = pooled_route(dns, sink, pools, tmp_path)
    outcomes = await route.deliver([envelope(i, f"u{i}@pooled.test") for i in range(40)])
    await route.close()
    assert {o.kind for o in outcomes} == {OutcomeKind.DELIVERED}
    by_peer = Counter((r.peer, r.helo) for r in sink.received)
    assert by_peer == {("127.0.0.2", "mta1.test"): 30, ("127.0.0.3", "mta2.test"): 10}


async def test_a_spent_warm_up_quota_holds_the_rest_until_tomorrow(
    mx_world: tuple[LocalDns, SmtpSink], tmp_path: Path
) -> None:
    dns, sink = mx_world
    pools = pool_settings([5])
    route = pooled_route(dns, sink, pools, tmp_path)
    outcomes = await route.deliver([envelope(i, f"u{i}@pooled.test") for i in range(16)])
    await route.close()
    delivered = [o for o in outcomes if o.kind is OutcomeKind.DELIVERED]
    held = [o for o in outcomes if o.held]
    assert len(delivered) == 10 and len(held) == 6 and len(sink.received) == 10
    assert Counter(r.peer for r in sink.received) == {"127.0.0.2": 5, "127.0.0.3": 5}
    wait = seconds_until_tomorrow(datetime.datetime.now(datetime.UTC))
    assert all(o.kind is OutcomeKind.DEFERRED and wait <= o.retry_after < wait + 5 for o in held)
    assert "warm-up quota" in held[0].reply
    # A new route (an agent restart) reads what was sent today and sends no more.
    again = pooled_route(dns, sink, pools, tmp_path)
    [outcome] = await again.deliver([envelope(99, "u99@pooled.test")])
    await again.close()
    assert outcome.held and len(sink.received) == 10


def test_the_scheduler_holds_a_warming_campaign_and_estimates_its_finish(
    tmp_path: Path, mx_world: tuple[LocalDns, SmtpSink]
) -> None:
    dns, sink = mx_world
    config = (
        '[delivery]\nworkers = 1\n\n[routes.capture]\ntype = "capture"\n\n'
        f'[routes.mx]\ntype = "mx"\nresolvers = ["127.0.0.1:{dns.port}"]\nport = {sink.port}\n'
        'tls = "none"\npool = "bulk"\n\n'
        "[ip_pools.plans]\nnew = [10, 20]\n\n"
        "[[ip_pools.pools.bulk.addresses]]\n"
        f'address = "127.0.0.2"\nhelo = "mta1.test"\nwarmup = "new"\nwarmup_start = {TODAY}\n\n'
        '[[routing.rules]]\nrecipient_domains = ["pooled.test"]\nroute = "mx"\n'
    )
    agent = AgentProcess(tmp_path / "agent", extra_config=config)
    try:
        agent.start()
        stubs = agent.stubs()
        c = stubs.campaigns.CreateCampaign(campaign_request("warm"))
        stubs.campaigns.UploadRecipients(batches(c.id, recipients(30, domain="pooled.test")))
        stubs.campaigns.StartCampaign(campaigns_pb2.CampaignRef(campaign_id=c.id))

        def states() -> Counter[int]:
            listed = stubs.messages.ListMessages(
                messages_pb2.ListMessagesRequest(campaign_id=c.id, limit=100)
            ).messages
            return Counter(m.state for m in listed)

        wait_until(lambda: states()[messages_pb2.MESSAGE_STATE_DEFERRED] == 20, 30, "the hold")
        assert states()[messages_pb2.MESSAGE_STATE_DELIVERED] == 10 and sink.count == 10
        deferred = [
            e
            for e in stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=1000)).events
            if e.type == events_pb2.EVENT_TYPE_MESSAGE_DEFERRED
        ]
        # Each held message is handed to the worker once, then the campaign waits.
        assert len(deferred) == 20 and all(e.attrs["held"] == "yes" for e in deferred)
        found = stubs.routing.EstimateFinish(routing_pb2.EstimateFinishRequest(campaign_id=c.id))
        [route] = found.routes
        assert (found.remaining, route.route, route.pool, route.remaining) == (20, "mx", "bulk", 20)
        assert route.HasField("today_capacity") and route.today_capacity == 0
        tomorrow_end = datetime.datetime.combine(
            TODAY + datetime.timedelta(days=2), datetime.time(), tzinfo=datetime.UTC
        )
        assert found.finish_by.ToDatetime(datetime.UTC) == tomorrow_end
        with pytest.raises(grpc.RpcError) as err:
            stubs.routing.EstimateFinish(routing_pb2.EstimateFinishRequest(campaign_id=999))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        agent.close()
