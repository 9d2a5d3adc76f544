"""The local DNS answer source that DKIM and direct-MX tests point their resolvers at."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import dns.resolver
import pytest

from tests.peers.dns import LocalDns


def resolver(server: LocalDns) -> dns.resolver.Resolver:
    """A resolver that asks only ``server``."""
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = server.port
    res.lifetime = 3.0
    return res


def test_answers_mx_a_aaaa_and_null_mx(local_dns: LocalDns) -> None:
    local_dns.add("example.test", "MX", "20 mx2.example.test.")
    local_dns.add("Example.TEST", "MX", "10 mx1.example.test.")
    local_dns.add("mx1.example.test", "A", "127.0.0.2")
    local_dns.add("mx1.example.test", "AAAA", "::1")
    local_dns.add("nomail.test", "MX", "0 .")
    res = resolver(local_dns)
    mx = sorted(
        (r.preference, r.exchange.to_text().lower()) for r in res.resolve("EXAMPLE.test", "MX")
    )
    assert mx == [(10, "mx1.example.test."), (20, "mx2.example.test.")]
    assert [r.address for r in res.resolve("mx1.example.test", "A")] == ["127.0.0.2"]
    assert [r.address for r in res.resolve("mx1.example.test", "AAAA")] == ["::1"]
    null = list(res.resolve("nomail.test", "MX"))
    assert [(r.preference, r.exchange.to_text()) for r in null] == [(0, ".")]


def test_unknown_names_are_nxdomain_and_missing_types_empty(local_dns: LocalDns) -> None:
    local_dns.add("plain.test", "A", "127.0.0.2")
    res = resolver(local_dns)
    with pytest.raises(dns.resolver.NXDOMAIN):
        res.resolve("nothing.test", "MX")
    with pytest.raises(dns.resolver.NoAnswer):
        res.resolve("plain.test", "MX")
    local_dns.remove("plain.test")
    with pytest.raises(dns.resolver.NXDOMAIN):
        res.resolve("plain.test", "A")


def test_long_txt_values_are_split_into_strings_and_join_back(local_dns: LocalDns) -> None:
    value = "v=DKIM1; k=rsa; p=" + "A" * 400
    local_dns.add_txt("sel._domainkey.example.test", value)
    (answer,) = resolver(local_dns).resolve("sel._domainkey.example.test", "TXT")
    assert [len(s) for s in answer.strings] == [255, 163]
    assert b"".join(answer.strings).decode() == value


def test_tcp_and_truncation(local_dns: LocalDns) -> None:
    for i in range(60):
        local_dns.add("many.test", "A", f"127.0.1.{i}")
    query = dns.message.make_query("many.test", "A", use_edns=False)
    udp = dns.query.udp(query, "127.0.0.1", port=local_dns.port, timeout=3)
    assert udp.flags & dns.flags.TC
    assert not udp.answer
    tcp = dns.query.tcp(query, "127.0.0.1", port=local_dns.port, timeout=3)
    assert len(tcp.answer[0]) == 60
    # A stock resolver retries over TCP by itself.
    assert len(resolver(local_dns).resolve("many.test", "A")) == 60


def test_stop_is_idempotent_and_frees_the_port() -> None:
    server = LocalDns()
    server.start()
    server.add("x.test", "A", "127.0.0.2")
    assert len(resolver(server).resolve("x.test", "A")) == 1
    server.stop()
    server.stop()
    res = resolver(server)
    res.lifetime = 0.5
    with pytest.raises(dns.exception.DNSException):
        res.resolve("x.test", "A", tcp=True)
