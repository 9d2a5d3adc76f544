"""The Queue service against a real agent whose relay defers (a 4xx sink): list, count, retry,
delete and bounce waiting mail by domain, campaign, age and route, one tenant's only; suspend
and resume a domain or a route."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import grpc
import pytest

from mailfleet.v1 import (
    admin_pb2,
    campaigns_pb2,
    common_pb2,
    events_pb2,
    messages_pb2,
    queue_pb2,
    suppression_pb2,
)
from tests.agent.builders import (
    batches,
    campaign_request,
    recipients,
    relay_config,
    transactional,
    wait_until,
)
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.smtp import SmtpSink, accept, defer

AgentFactory = Callable[[str], AgentProcess]
DEFERRED = messages_pb2.MESSAGE_STATE_DEFERRED
QUEUED = messages_pb2.MESSAGE_STATE_QUEUED
# Deferred mail is tried again only after an hour: it stays in the queue for the tools.
SLOW_RETRIES = "retry_base_seconds = 3600\nretry_max_seconds = 7200"
Sel = queue_pb2.QueueSelection
DOMAIN = queue_pb2.SUSPENSION_KIND_DOMAIN
ROUTE = queue_pb2.SUSPENSION_KIND_ROUTE


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


def tenant_key(admin: Stubs, name: str) -> tuple[str, int]:
    """A new tenant's API key, and its id."""
    made = admin.admin.CreateTenant(admin_pb2.CreateTenantRequest(name=name), timeout=5)
    key = admin.admin.CreateApiKey(
        admin_pb2.CreateApiKeyRequest(tenant_id=made.id, name=f"{name} key"), timeout=5
    )
    return key.secret, made.id


def tenant(agent: AgentProcess, admin: Stubs, name: str) -> tuple[Stubs, int]:
    secret, tenant_id = tenant_key(admin, name)
    return agent.stubs(secret), tenant_id


def running_campaign(stubs: Stubs, rows: list[common_pb2.Recipient], key: str) -> int:
    c = stubs.campaigns.CreateCampaign(campaign_request(key))
    assert stubs.campaigns.UploadRecipients(batches(c.id, rows)).accepted == len(rows)
    stubs.campaigns.StartCampaign(campaigns_pb2.CampaignRef(campaign_id=c.id))
    return c.id


def listed(stubs: Stubs, **selection: object) -> list[queue_pb2.QueuedMessage]:
    request = queue_pb2.ListQueueRequest(selection=Sel(**selection), limit=1000)  # type: ignore[arg-type]
    return list(stubs.queue.ListQueue(request).messages)


def summarize(stubs: Stubs, **selection: object) -> queue_pb2.SummarizeQueueResponse:
    request = queue_pb2.SummarizeQueueRequest(selection=Sel(**selection))  # type: ignore[arg-type]
    return stubs.queue.SummarizeQueue(request)


def retry(stubs: Stubs, **selection: object) -> int:
    request = queue_pb2.RetryQueuedRequest(selection=Sel(**selection))  # type: ignore[arg-type]
    return stubs.queue.RetryQueued(request).retried


def delete(stubs: Stubs, **selection: object) -> int:
    request = queue_pb2.DeleteQueuedRequest(selection=Sel(**selection))  # type: ignore[arg-type]
    return stubs.queue.DeleteQueued(request).deleted


def bounce(stubs: Stubs, reason: str, **selection: object) -> int:
    request = queue_pb2.BounceQueuedRequest(selection=Sel(**selection), reason=reason)  # type: ignore[arg-type]
    return stubs.queue.BounceQueued(request).bounced


def suspensions(stubs: Stubs) -> list[str]:
    found = stubs.queue.ListSuspensions(queue_pb2.ListSuspensionsRequest()).suspensions
    return [s.name for s in found]


def arrived(sink: SmtpSink, count: int) -> list[str]:
    """The recipients of the first ``count`` messages the sink receives, sorted."""
    return sorted(r for m in sink.wait_for(count, timeout=60) for r in m.rcpt_to)


def states(stubs: Stubs, **selection: object) -> list[int]:
    return [m.state for m in listed(stubs, **selection)]


def refused(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value


def test_queue_tools_on_deferred_mail_of_one_tenant(
    agent_factory: AgentFactory, sink: SmtpSink
) -> None:
    agent = agent_factory(relay_config(sink, SLOW_RETRIES))
    admin = agent.stubs()
    alice, _ = tenant(agent, admin, "alice")
    bob, bob_id = tenant(agent, admin, "bob")
    rows = recipients(3, domain="slow.example") + recipients(2, start=3, domain="busy.example")
    for r in rows:
        sink.rule(r.email, defer("451 4.7.1 Try again later"))
    sink.rule("buyer@busy.example", defer("451 4.7.1 Try again later"))
    cid = running_campaign(alice, rows, "news")
    alice.transactional.SendMessage(transactional("receipt", "buyer@busy.example"))
    theirs = bob.transactional.SendMessage(transactional("bob", "buyer@busy.example")).message_id
    wait_until(lambda: states(alice) == [DEFERRED] * 6, 60, "alice's mail deferred")
    wait_until(lambda: states(bob) == [DEFERRED], 60, "bob's mail deferred")

    # Listing and counting, by domain, campaign, age and route: alice's mail only.
    mine = listed(alice)
    assert {m.route for m in mine} == {"relay"}
    assert all(m.last_reply.startswith("451 4.7.1") and m.attempts == 1 for m in mine)
    assert theirs not in {m.id for m in mine}
    assert len(listed(alice, domain="SLOW.example")) == 3
    assert len(listed(alice, campaign_id=cid)) == 5
    assert len(listed(alice, transactional_only=True)) == 1
    assert len(listed(alice, route="relay")) == 6 and listed(alice, route="other") == []
    assert listed(alice, min_age_seconds=3600) == []
    summary = summarize(alice)
    assert [(d.name, d.deferred) for d in summary.domains] == [
        ("busy.example", 3),
        ("slow.example", 3),
    ]
    assert [(r.name, r.deferred) for r in summary.routes] == [("relay", 6)]
    assert summary.total.deferred == 6 and summary.total.oldest_created_at.seconds > 0

    # Another tenant neither sees nor touches alice's mail.
    assert [m.id for m in listed(bob)] == [theirs]
    ids = [m.id for m in mine]
    assert delete(bob, message_ids=ids) == 0
    assert bounce(bob, "closed", campaign_id=cid) == 0
    err = refused(lambda: listed(bob, all_tenants=True))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert states(alice) == [DEFERRED] * 6

    # Retry now: slow.example has recovered; its mail goes out at once, not in an hour.
    for r in rows[:3]:
        sink.rule(r.email, accept())
    assert retry(alice, domain="slow.example") == 3
    assert arrived(sink, 3) == sorted(r.email for r in rows[:3])

    # Bounce the campaign's rest with a reason; delete the receipt.
    assert bounce(alice, "mailbox retired", campaign_id=cid) == 2
    assert delete(alice, domain="busy.example") == 1
    assert listed(alice) == [] and [m.id for m in listed(bob)] == [theirs]
    ended = [
        e
        for e in alice.events.ListEvents(events_pb2.ListEventsRequest()).events
        if e.type == events_pb2.EVENT_TYPE_MESSAGE_BOUNCED
    ]
    assert [(e.attrs["by"], e.attrs["reply"]) for e in ended] == [
        ("operator", "mailbox retired")
    ] * 2
    # An operator's bounce says nothing about the address: it is not suppressed.
    checked = alice.suppression.CheckSuppressions(
        suppression_pb2.CheckSuppressionsRequest(emails=[e.email for e in ended])
    )
    assert not any(s.suppressed for s in checked.statuses)
    # The admin may act on every tenant's mail.
    assert summarize(admin, all_tenants=True).total.deferred == 1
    assert delete(admin, tenant_id=bob_id) == 1


@pytest.mark.parametrize(
    ("selection", "field"),
    [
        (Sel(domain="not a domain"), "selection.domain"),
        (Sel(campaign_id=1, transactional_only=True), "selection.transactional_only"),
        (Sel(message_ids=range(10_001)), "selection.message_ids"),
        (Sel(route="relay\nX"), "selection.route"),
    ],
)
def test_a_bad_filter_is_invalid_with_one_clear_line(
    shared_agent: AgentProcess, selection: queue_pb2.QueueSelection, field: str
) -> None:
    stubs = shared_agent.stubs()
    err = refused(lambda: stubs.queue.ListQueue(queue_pb2.ListQueueRequest(selection=selection)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = err.details() or ""
    assert details.startswith(f"{field}: ") and "\n" not in details


def test_bad_suspensions_are_refused_with_one_clear_line(shared_agent: AgentProcess) -> None:
    stubs = shared_agent.stubs()
    for request, words in [
        (queue_pb2.SuspendRequest(name="example.com"), "kind: say whether"),
        (queue_pb2.SuspendRequest(kind=ROUTE, name="nope"), "no route named 'nope'"),
        (queue_pb2.SuspendRequest(kind=DOMAIN, name="a b"), "not a domain name"),
    ]:
        err = refused(lambda r=request: stubs.queue.Suspend(r))  # type: ignore[misc]
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert words in (err.details() or "")
    err = refused(
        lambda: stubs.queue.Resume(queue_pb2.ResumeRequest(kind=DOMAIN, name="example.com"))
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert err.details() == "no suspension of domain 'example.com' is in force"


def test_a_suspended_domain_or_route_holds_its_mail_until_resumed(
    tmp_path_factory: pytest.TempPathFactory, sink: SmtpSink
) -> None:
    agent = AgentProcess(tmp_path_factory.mktemp("held") / "agent", extra_config=relay_config(sink))
    agent.start()
    try:
        _suspend_and_resume(agent, sink)
    finally:
        agent.close()


def _suspend_and_resume(agent: AgentProcess, sink: SmtpSink) -> None:
    admin = agent.stubs()
    alice_key, alice_id = tenant_key(admin, "alice")
    alice = agent.stubs(alice_key)
    bob, _ = tenant(agent, admin, "bob")
    held = alice.queue.Suspend(
        queue_pb2.SuspendRequest(kind=DOMAIN, name="Held.Example", reason="their MX is down")
    )
    assert (held.tenant_id, held.name, held.HasField("until")) == (alice_id, "held.example", False)
    rows = recipients(3, domain="held.example") + recipients(2, start=3, domain="free.example")
    cid = running_campaign(alice, rows, "news")
    alice.transactional.SendMessage(transactional("receipt", "buyer@held.example"))
    bob.transactional.SendMessage(transactional("bob", "bob@held.example"))  # not alice's hold

    assert arrived(sink, 3) == ["bob@held.example", "user3@free.example", "user4@free.example"]
    ref = campaigns_pb2.CampaignRef(campaign_id=cid)
    wait_until(
        lambda: alice.campaigns.GetCampaign(ref).counts.delivered == 2,
        30,
        "the campaign's free.example mail recorded",
    )
    waiting = listed(alice)
    # Still queued: never leased, never tried, so nothing counts against it.
    assert [(m.state, m.attempts, m.suspended) for m in waiting] == [(QUEUED, 0, True)] * 4
    summary = summarize(alice)
    assert [(d.name, d.queued, d.suspended) for d in summary.domains] == [("held.example", 4, True)]
    assert [s.name for s in summary.suspensions] == ["held.example"]
    assert suspensions(bob) == []

    # Kept across a restart.
    agent.terminate()
    agent.start()
    alice = agent.stubs(alice_key)
    assert suspensions(alice) == ["held.example"]
    assert states(alice) == [QUEUED] * 4

    sink.clear()
    resumed = alice.queue.Resume(queue_pb2.ResumeRequest(kind=DOMAIN, name="held.example"))
    assert resumed.resumed.reason == "their MX is down"
    assert len(arrived(sink, 4)) == 4
    wait_until(lambda: listed(alice) == [], 30, "the held mail recorded delivered")

    # A route: what it would send waits, deferred without a try, until the route is resumed.
    alice.queue.Suspend(queue_pb2.SuspendRequest(kind=ROUTE, name="relay"))
    sink.clear()
    alice.transactional.SendMessage(transactional("later", "buyer@free.example"))
    wait_until(lambda: states(alice) == [DEFERRED], 60, "the message held for its route")
    (on_hold,) = listed(alice)
    assert on_hold.route == "relay" and on_hold.suspended
    assert on_hold.last_reply == "not tried: route 'relay' is suspended"
    assert sink.count == 0
    alice.queue.Resume(queue_pb2.ResumeRequest(kind=ROUTE, name="relay"))
    assert arrived(sink, 1) == ["buyer@free.example"]

    # A suspension with an end lifts by itself.
    start = time.time()
    alice.queue.Suspend(
        queue_pb2.SuspendRequest(kind=DOMAIN, name="soon.example", duration_seconds=3)
    )
    sink.clear()
    alice.transactional.SendMessage(transactional("soon", "buyer@soon.example"))
    assert len(sink.wait_for(1, timeout=60)) == 1
    assert time.time() >= start + 3
    assert suspensions(alice) == []
