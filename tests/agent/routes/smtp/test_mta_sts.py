"""TLS policy for direct MX: per-domain ``tls_required`` and MTA-STS (RFC 8461), with a local
HTTPS policy host, MX stand-ins and DNS records on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailfleet.agent.routes.base import OutcomeKind
from mailfleet.agent.routes.direct_mx import DirectMx
from mailfleet.agent.routes.settings import DirectMxRoute, LimitsSettings, MtaStsSettings
from mailfleet.agent.routes.smtp.mta_sts import Policy, PolicyError, parse_policy, txt_id
from tests.agent.routes.conftest import SinkFactory, envelope
from tests.peers.dns import LocalDns
from tests.peers.https import FileServer
from tests.peers.pki import LocalCa
from tests.peers.smtp import free_port

POLICY_HOST = "127.0.0.4"


def test_policies_parse_as_rfc_8461_says() -> None:
    text = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
    policy = parse_policy(text + "max_age: 604800\r\n", "abc")
    assert policy == Policy("enforce", ("mail.example.com", "*.example.net"), 604800, "abc")
    assert policy.allows("MAIL.example.com.") and policy.allows("mx1.example.net")
    assert not policy.allows("a.b.example.net") and not policy.allows("example.net")
    assert parse_policy(
        "version: STSv1\nmode: testing\nmx: a.test\nmax_age: 99999999\n"
    ).max_age == (31_557_600)
    for bad in (
        "version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n",
        "version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmx: a.test\n",
        "<html>not a policy</html>",
    ):
        with pytest.raises(PolicyError):
            parse_policy(bad)
    assert txt_id(["v=STSv1; id=20261128T1;"]) == "20261128T1"
    assert txt_id(["v=spf1 -all", "v=STSv1; id=abc"]) == "abc"
    assert txt_id(["v=STSv1; id=a", "v=STSv1; id=b"]) is None
    assert txt_id(["v=STSv1;"]) is None


@dataclass
class World:
    dns: LocalDns
    ca: LocalCa
    policy_host: FileServer
    port: int  # the MX stand-ins' port

    def publish(self, domain: str, policy: str) -> None:
        self.dns.add_txt(f"_mta-sts.{domain}", "v=STSv1; id=1;")
        self.dns.add(f"mta-sts.{domain}", "A", POLICY_HOST)
        self.policy_host.files["/.well-known/mta-sts.txt"] = ("text/plain", policy.encode())

    def mx(self, domain: str, address: str) -> None:
        self.dns.add(domain, "MX", f"10 mx.{domain}.")
        self.dns.add(f"mx.{domain}", "A", address)

    def route(self, **overrides: object) -> DirectMx:
        settings = DirectMxRoute.model_validate(
            {
                "resolvers": [f"127.0.0.1:{self.dns.port}"],
                "port": self.port,
                "timeout_seconds": 5.0,
                "mta_sts": MtaStsSettings(
                    ca_file=str(self.ca.cert_file), port=self.policy_host.port
                ),
                **overrides,
            }
        )
        return DirectMx("mx", settings, LimitsSettings(), helo="agent.test")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    dns = LocalDns()
    dns.start()
    ca = LocalCa.create(tmp_path)
    # One policy host answers for every test domain: its certificate names secure.test's.
    server = FileServer(POLICY_HOST, ca.issue("mta-sts.secure.test")).start()
    try:
        yield World(dns, ca, server, free_port())
    finally:
        server.stop()
        dns.stop()


ENFORCE = "version: STSv1\nmode: enforce\nmx: mx.secure.test\nmax_age: 86400\n"


async def test_enforce_refuses_an_mx_without_tls(world: World, make_sink: SinkFactory) -> None:
    plain = make_sink(host="127.0.0.2", port=world.port)  # offers no STARTTLS
    world.mx("secure.test", "127.0.0.2")
    world.publish("secure.test", ENFORCE)
    route = world.route()
    outcomes = await route.deliver([envelope(1, "a@secure.test"), envelope(2, "b@secure.test")])
    await route.close()
    assert {o.kind for o in outcomes} == {OutcomeKind.DEFERRED}
    assert all("STARTTLS" in o.reply for o in outcomes), outcomes[0].reply
    assert plain.received == []
    assert world.policy_host.requests == [
        f"mta-sts.secure.test:{world.policy_host.port}/.well-known/mta-sts.txt"
    ]


async def test_enforce_delivers_over_verified_tls(world: World, make_sink: SinkFactory) -> None:
    sink = make_sink(
        host="127.0.0.2",
        port=world.port,
        tls="starttls",
        certificate=world.ca.issue("mx.secure.test"),
    )
    world.mx("secure.test", "127.0.0.2")
    world.publish("secure.test", ENFORCE)
    route = world.route()
    outcomes = await route.deliver([envelope(1, "a@secure.test")])
    await route.close()
    assert [o.kind for o in outcomes] == [OutcomeKind.DELIVERED]
    assert [r.tls for r in sink.received] == [True]


async def test_enforce_refuses_an_mx_whose_certificate_does_not_verify(
    world: World, make_sink: SinkFactory
) -> None:
    make_sink(host="127.0.0.2", port=world.port, tls="starttls")  # self-signed, for localhost
    world.mx("secure.test", "127.0.0.2")
    world.publish("secure.test", ENFORCE)
    route = world.route()
    [outcome] = await route.deliver([envelope(1, "a@secure.test")])
    await route.close()
    assert outcome.kind is OutcomeKind.DEFERRED
    assert "certificate" in outcome.reply.lower() or "STARTTLS" in outcome.reply


async def test_enforce_refuses_mx_hosts_the_policy_does_not_name(
    world: World, make_sink: SinkFactory
) -> None:
    sink = make_sink(host="127.0.0.2", port=world.port)
    world.mx("secure.test", "127.0.0.2")
    world.publish("secure.test", ENFORCE.replace("mx.secure.test", "*.elsewhere.test"))
    route = world.route()
    [outcome] = await route.deliver([envelope(1, "a@secure.test")])
    await route.close()
    assert outcome.kind is OutcomeKind.DEFERRED
    assert "MTA-STS policy of secure.test names none of its MX hosts" in outcome.reply
    assert sink.received == []


async def test_testing_mode_and_disabled_mta_sts_deliver_as_usual(
    world: World, make_sink: SinkFactory
) -> None:
    plain = make_sink(host="127.0.0.2", port=world.port)
    world.mx("secure.test", "127.0.0.2")
    world.publish("secure.test", ENFORCE.replace("enforce", "testing"))
    route = world.route()
    [outcome] = await route.deliver([envelope(1, "a@secure.test")])
    await route.close()
    assert outcome.kind is OutcomeKind.DELIVERED
    world.policy_host.files.clear()  # no longer needed: the agent does not look
    off = world.route(mta_sts={"enabled": False})
    [outcome] = await off.deliver([envelope(2, "b@secure.test")])
    await off.close()
    assert outcome.kind is OutcomeKind.DELIVERED and len(plain.received) == 2


async def test_tls_required_per_domain(world: World, make_sink: SinkFactory) -> None:
    plain = make_sink(host="127.0.0.2", port=world.port)
    world.mx("strict.test", "127.0.0.2")
    world.mx("relaxed.test", "127.0.0.2")
    route = world.route(tls_required=["strict.test"])
    outcomes = {
        o.message_id: o
        for o in await route.deliver([envelope(1, "a@strict.test"), envelope(2, "a@relaxed.test")])
    }
    await route.close()
    assert outcomes[1].kind is OutcomeKind.DEFERRED and "STARTTLS" in outcomes[1].reply
    assert outcomes[2].kind is OutcomeKind.DELIVERED
    assert [r.rcpt_to for r in plain.received] == [("a@relaxed.test",)]
