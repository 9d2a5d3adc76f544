"""SSRF defence: endpoint URLs and the addresses their names resolve to, at each connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailfleet.agent.eventhooks import signing
from mailfleet.agent.eventhooks.addresses import AddressPolicy, GuardedResolver, Refused
from mailfleet.agent.eventhooks.sender import Sender
from mailfleet.agent.eventhooks.settings import WebhookSettings
from tests.peers.pki import LocalCa
from tests.peers.webhooks import WebhookReceiver

STRICT = AddressPolicy(WebhookSettings())


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("https://127.0.0.1/hooks", "127.0.0.1 is a loopback address"),
        ("https://127.9.9.9:8443/hooks", "a loopback address"),
        ("https://[::1]/hooks", "a loopback address"),
        ("https://[::ffff:127.0.0.1]/hooks", "a loopback address"),
        ("https://10.1.2.3/hooks", "10.1.2.3 is a private address"),
        ("https://172.16.0.9/hooks", "a private address"),
        ("https://192.168.1.1/hooks", "a private address"),
        ("https://[fd12::1]/hooks", "a private address"),
        ("https://100.64.0.1/hooks", "a shared (CGNAT) address"),
        ("https://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("https://[fd00:ec2::254]/latest/meta-data/", "a cloud metadata address"),
        ("https://169.254.10.1/hooks", "a link-local address"),
        ("https://[fe80::1]/hooks", "a link-local address"),
        ("https://224.0.0.1/hooks", "a multicast address"),
        ("https://0.0.0.0/hooks", "a local address"),
        ("http://hooks.example.com/in", "must start with https://"),
        ("ftp://hooks.example.com/in", "must start with https://"),
        ("https://user:pw@hooks.example.com/in", "must not carry a user name"),
        ("https:///in", "has no host name"),
    ],
)
def test_urls_refused_without_a_setting(url: str, said: str) -> None:
    with pytest.raises(Refused, match=said.replace("(", r"\(").replace(")", r"\)")):
        STRICT.check_url(url)


def test_a_public_address_or_name_passes_the_url_check() -> None:
    assert STRICT.check_url("https://hooks.example.com/in") == ("hooks.example.com", 443)
    assert STRICT.check_url("https://203.0.113.7:8443/in") == ("203.0.113.7", 8443)


def test_allow_networks_opens_only_the_named_network() -> None:
    policy = AddressPolicy(WebhookSettings(allow_http=True, allow_networks=["127.0.0.1/32"]))
    assert policy.check_url("http://127.0.0.1:9000/hooks") == ("127.0.0.1", 9000)
    for url in ("http://127.0.0.2/hooks", "http://169.254.169.254/", "http://10.0.0.1/"):
        with pytest.raises(Refused):
            policy.check_url(url)


def test_settings_refuse_a_network_that_is_not_one() -> None:
    with pytest.raises(ValueError, match="not a network"):
        WebhookSettings(allow_networks=["localhost"])


async def test_a_name_resolving_to_loopback_is_refused_after_resolution() -> None:
    with pytest.raises(Refused, match=r"localhost resolves to .*, a loopback address"):
        await GuardedResolver(STRICT).resolve("localhost", 443)


async def test_each_connection_is_checked_on_the_address_it_goes_to() -> None:
    """The URL check passes a name; the connection is refused on what the name resolves to,
    and nothing reaches the receiver. Allowed, the same name connects to the allowed address."""
    with WebhookReceiver() as receiver:
        receiver.secret = signing.new_secret()
        url = receiver.url(host="localhost")
        async with Sender(WebhookSettings(allow_http=True)) as sender:
            error = await sender.post(url, receiver.secret, "msg_1", b"{}")
        assert "localhost resolves to" in error and "a loopback address" in error
        assert receiver.received == []

        allowed = WebhookSettings(allow_http=True, allow_networks=["127.0.0.1/32"])
        async with Sender(allowed) as sender:
            assert await sender.post(url, receiver.secret, "msg_2", b"{}") == ""
        assert [r.msg_id for r in receiver.received] == ["msg_2"]


async def test_a_redirect_is_not_followed() -> None:
    """A redirect could lead past the checks to an address no endpoint may have."""
    with WebhookReceiver() as receiver:
        receiver.redirect_to = "http://169.254.169.254/latest/meta-data/"
        allowed = WebhookSettings(allow_http=True, allow_networks=["127.0.0.1/32"])
        async with Sender(allowed) as sender:
            error = await sender.post(receiver.url(), signing.new_secret(), "msg_3", b"{}")
        assert error == "it answered with a redirect (HTTP 307), which webhooks do not follow"


async def test_an_endpoint_whose_certificate_is_not_trusted_gets_nothing(tmp_path: Path) -> None:
    """HTTPS endpoints are verified against the system's trusted CAs; a private CA's
    certificate is refused before anything is sent."""
    ca = LocalCa.create(tmp_path)
    with WebhookReceiver(tls=ca.issue("127.0.0.1")) as receiver:
        settings = WebhookSettings(allow_networks=["127.0.0.1/32"])
        async with Sender(settings) as sender:
            error = await sender.post(receiver.url(), signing.new_secret(), "msg_4", b"{}")
        assert error == "its TLS certificate is not valid for 127.0.0.1"
        assert receiver.received == []


async def test_the_sender_reads_retry_after() -> None:
    with WebhookReceiver() as receiver:
        receiver.fail_next, receiver.retry_after = 1, "7"
        allowed = WebhookSettings(allow_http=True, allow_networks=["127.0.0.1/32"])
        async with Sender(allowed) as sender:
            sent = await sender.send(receiver.url(), signing.new_secret(), "msg_5", b"{}")
        assert sent == ("it answered HTTP 503: busy, try later", 7.0)
