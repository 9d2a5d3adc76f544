"""Raw MIME with bare CR or bare LF line ends is signed over the bytes that go on the wire:
an independent verifier passes the message the relay received."""

from __future__ import annotations

from pathlib import Path

from mailfleet.v1 import common_pb2, transactional_pb2
from tests.agent.builders import relay_config
from tests.peers.agent import AgentProcess
from tests.peers.dkimverify import mail_dkim, publish_key
from tests.peers.dns import LocalDns
from tests.peers.smtp import SmtpSink

RAW = (
    b"From: shop@shop.example\r\n"
    b"To: a@example.com\r\n"
    b"Subject: line ends\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"a line ended by a bare CR\r"
    b"one ended by a bare LF\n"
    b"and   one   with CRLF\r\n"
    b"old Mac\rstyle\r\rend\r\n"
)


def test_raw_mime_with_bare_cr_and_lf_arrives_with_a_signature_that_verifies(
    tmp_path: Path, local_dns: LocalDns
) -> None:
    with SmtpSink() as sink:
        agent = AgentProcess(tmp_path / "agent", extra_config=relay_config(sink))
        publish_key(agent.config, "shop.example", "raw", local_dns)
        agent.start()
        try:
            agent.stubs().transactional.SendMessage(
                transactional_pb2.SendMessageRequest(
                    idempotency_key="bare-cr",
                    sender=common_pb2.Sender(from_address="shop@shop.example"),
                    to=common_pb2.Recipient(email="a@example.com"),
                    raw_mime=RAW,
                )
            )
            (got,) = sink.wait_for(1, timeout=60)
        finally:
            agent.close()
    data = got.data
    assert data.count(b"\r") == data.count(b"\n") == data.count(b"\r\n")
    assert data.endswith(
        b"\r\n\r\na line ended by a bare CR\r\none ended by a bare LF\r\n"
        b"and   one   with CRLF\r\nold Mac\r\nstyle\r\n\r\nend\r\n"
    )
    assert b"\r\nDKIM-Signature:" in b"\r\n" + data
    assert mail_dkim(data, local_dns, tmp_path) == {"rsa-sha256": "pass"}
