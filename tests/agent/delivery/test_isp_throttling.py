"""A real agent sending direct to MX stand-ins of Gmail, Microsoft and Yahoo (by their MX
host names in a local DNS) that answer with the throttling replies those ISPs document: the
recipient domain is suspended by itself, visible over the API, tried again only once the
suspension lifts, suspended longer when it answers so again, and its mail goes out after."""

from __future__ import annotations

from collections.abc import Callable

from mailfleet.v1 import events_pb2, queue_pb2
from tests.agent.builders import transactional, wait_until
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.dns import LocalDns
from tests.peers.smtp import SmtpSink, accept, defer, free_port

MX = "127.0.0.11"
# domain: (its MX host, the ISP's name, the code the reason names, the reply)
ISPS = {
    "gmail.test": (
        "gmail-smtp-in.l.google.com",
        "Gmail",
        "421 4.7.28",
        "421 4.7.28 [127.0.0.1] Our system has detected an unusual rate of unsolicited mail",
    ),
    "office.test": (
        "office-test.mail.protection.outlook.com",
        "Microsoft",
        "451 4.7.650",
        "451 4.7.650 The mail server [127.0.0.1] has been temporarily rate limited",
    ),
    "yahoo.test": (
        "mta5.am0.yahoodns.net",
        "Yahoo/AOL",
        "421 4.7.0 [TSS04]",
        "421 4.7.0 [TSS04] Messages from 127.0.0.1 temporarily deferred",
    ),
}


def suspensions(stubs: Stubs) -> dict[str, queue_pb2.Suspension]:
    request = queue_pb2.ListSuspensionsRequest(all_tenants=True)
    return {s.name: s for s in stubs.queue.ListSuspensions(request).suspensions}


def length(s: queue_pb2.Suspension) -> int:
    return s.until.seconds - s.created_at.seconds


def tries(stubs: Stubs, email: str) -> list[float]:
    """When each deferral of ``email``'s message was recorded, in order."""
    found = stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=10_000)).events
    return [
        e.time.seconds + e.time.nanos / 1e9
        for e in found
        if e.email == email and e.type == events_pb2.EVENT_TYPE_MESSAGE_DEFERRED
    ]


def test_documented_throttling_replies_suspend_their_domain_with_back_off(
    agent_factory: Callable[[str], AgentProcess], local_dns: LocalDns
) -> None:
    with SmtpSink(host=MX, port=free_port(MX)) as sink:
        for domain, (host, _, _, reply) in ISPS.items():
            local_dns.add(domain, "MX", f"10 {host}.")
            local_dns.add(host, "A", MX)
            sink.rule(f"a@{domain}", defer(reply))
        agent = agent_factory(f"""
[delivery]
workers = 1
default_route = "mx"
retry_base_seconds = 1
retry_max_seconds = 1

[routes.mx]
type = "mx"
resolvers = ["127.0.0.1:{local_dns.port}"]
port = {sink.port}
tls = "none"

[limits.isps.gmail]
suspend_seconds = 3
[limits.isps.microsoft]
suspend_seconds = 3
[limits.isps.yahoo]
suspend_seconds = 3
""")
        stubs = agent.stubs()
        for domain in ISPS:
            stubs.transactional.SendMessage(transactional(f"t-{domain}", f"a@{domain}"))
        wait_until(lambda: set(suspensions(stubs)) == set(ISPS), 30, "three suspensions")
        for domain, s in suspensions(stubs).items():
            assert s.kind == queue_pb2.SUSPENSION_KIND_DOMAIN and s.tenant_id == 0
            assert length(s) == 3
            _, name, code, _ = ISPS[domain]
            said = f"paused automatically for 3 seconds: {name} answered {code} ("
            assert s.reason.startswith(said), s.reason

        # Microsoft and Yahoo take mail again; Gmail still throttles when it is tried again.
        sink.rule("a@office.test", accept())
        sink.rule("a@yahoo.test", accept())

        def doubled() -> bool:
            s = suspensions(stubs).get("gmail.test")
            return s is not None and length(s) == 6

        wait_until(doubled, 30, "Gmail's second, longer suspension")
        wait_until(lambda: sink.count == 2, 30, "the Microsoft and Yahoo messages")
        sink.rule("a@gmail.test", accept())
        wait_until(lambda: sink.count == 3, 30, "the Gmail message after its suspension")

        # With a retry due after about a second, only the suspensions kept the tries apart.
        gmail = tries(stubs, "a@gmail.test")
        assert len(gmail) == 2
        assert gmail[1] - gmail[0] >= 3
        assert sorted(r for m in sink.received for r in m.rcpt_to) == sorted(f"a@{d}" for d in ISPS)
        assert sink.duplicates() == []
        assert "gmail.test suspended: paused automatically" in agent.log()
