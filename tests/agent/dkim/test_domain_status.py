"""ListSendingDomains reports each domain's DKIM keys, and the report matches what is signed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailfleet.agent.client import AgentClient
from mailfleet.agent.dkim.keys import generate_key
from mailfleet.v1 import smtp_users_pb2
from tests.agent.builders import relay_config
from tests.peers.agent import AgentProcess
from tests.peers.smtp import SmtpSink


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


def test_each_sending_domain_reports_the_keys_its_mail_is_signed_with(
    tmp_path: Path, sink: SmtpSink
) -> None:
    proc = AgentProcess(tmp_path / "agent", extra_config=relay_config(sink))
    dkim_dir = proc.data_dir / "dkim"
    generate_key(dkim_dir, "Shop.Example", "s1", "rsa")
    generate_key(dkim_dir, "shop.example", "s2", "ed25519")
    generate_key(dkim_dir, "elsewhere.example", "s1", "rsa")  # a key for no sending domain
    proc.start()
    try:
        stubs = proc.stubs().smtp_users
        for domain in ("shop.example", "plain.example"):
            stubs.AddSendingDomain(smtp_users_pb2.SendingDomainRequest(domain=domain))
        reply = stubs.ListSendingDomains(smtp_users_pb2.ListSendingDomainsRequest())
        assert list(reply.domains) == ["plain.example", "shop.example"]
        plain, shop = reply.statuses
        assert (plain.domain, plain.signs, list(plain.keys)) == ("plain.example", False, [])
        assert shop.domain == "shop.example" and shop.signs
        assert sorted((k.selector, k.algorithm) for k in shop.keys) == [
            ("s1", "rsa-sha256"),
            ("s2", "ed25519-sha256"),
        ]

        # What the report says is what the workers do.
        with AgentClient.connect(proc.pairing) as agent:
            for sender in ("news@shop.example", "news@plain.example"):
                agent.send_message(sender, "buyer@example.net", sender, subject="Hi", text="Hi")
        sink.wait_for(2, timeout=60)
        selectors: dict[bytes, list[bytes]] = {}
        for message in sink.received:
            head = message.data.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
            who = b"shop" if b"@shop.example" in _field(head, b"From") else b"plain"
            selectors[who] = sorted(re.findall(rb"\bs=([\w-]+);", _field(head, b"DKIM-Signature")))
        assert selectors == {b"shop": [b"s1", b"s2"], b"plain": []}
    finally:
        proc.close()


def _field(head: bytes, name: bytes) -> bytes:
    """Every instance of the header field ``name``, unfolded and joined."""
    unfolded = re.sub(rb"\n[ \t]+", b" ", head)
    prefix = name.lower() + b":"
    return b"\n".join(line for line in unfolded.split(b"\n") if line.lower().startswith(prefix))
