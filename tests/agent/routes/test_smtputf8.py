"""International addresses (RFC 6531/6532): sent with SMTPUTF8 where the server offers it,
failed with a plain reason where it does not; ASCII mail goes as before."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from mailfleet.agent.routes.base import Envelope, OutcomeKind
from mailfleet.agent.routes.smtp.session import NO_SMTPUTF8
from mailfleet.agent.routes.smtp_relay import SmtpRelay
from mailfleet.v1 import campaigns_pb2, common_pb2, messages_pb2
from tests.agent.builders import batches, campaign_request, relay_config, wait_until
from tests.agent.routes.conftest import SinkFactory, envelope, relay_settings
from tests.peers.agent import AgentProcess
from tests.peers.dkimverify import mail_dkim, publish_key
from tests.peers.dns import LocalDns
from tests.peers.smtp import SmtpSink

INTERNATIONAL = "émilie.çava@exämple.com"
# What the envelope and the header carry: the UTF-8 local part, the domain in A-labels.
ON_THE_WIRE = "émilie.çava@xn--exmple-cua.com"


def utf8_envelope(
    message_id: int, rcpt_to: str = INTERNATIONAL, utf8_headers: bool = False
) -> Envelope:
    """A message with a UTF-8 address in its header (RFC 6532)."""
    data = f"From: <news@shop.example>\r\nTo: <{ON_THE_WIRE}>\r\nSubject: s\r\n\r\nHi\r\n"
    return Envelope(message_id, "bounce@sender.test", rcpt_to, data.encode(), utf8_headers)


async def test_the_relay_asks_for_smtputf8_only_when_the_message_needs_it(
    make_sink: SinkFactory,
) -> None:
    sink = make_sink(smtputf8=True)
    route = SmtpRelay("relay", relay_settings(sink), helo="agent.test")
    batch = [
        envelope(1),
        utf8_envelope(2),
        envelope(3, "ann@bücher.example"),  # an IDN domain alone goes as A-labels
        utf8_envelope(4, "ann@example.test", utf8_headers=True),  # a UTF-8 From, say
    ]
    outcomes = {o.message_id: o for o in await route.deliver(batch)}
    await route.close()

    assert {o.kind for o in outcomes.values()} == {OutcomeKind.DELIVERED}
    got = {r.rcpt_to[0]: r for r in sink.wait_for(4)}
    assert got["user1@example.test"].mail_options == ()
    assert got["ann@xn--bcher-kva.example"].mail_options == ()
    assert got[ON_THE_WIRE].mail_options == ("BODY=8BITMIME", "SMTPUTF8")
    assert got["ann@example.test"].mail_options == ("BODY=8BITMIME", "SMTPUTF8")
    assert got[ON_THE_WIRE].data == batch[1].data


async def test_without_smtputf8_only_the_international_message_fails(
    make_sink: SinkFactory,
) -> None:
    sink = make_sink()  # aiosmtpd without SMTPUTF8 would answer 501 if asked anyway
    route = SmtpRelay("relay", relay_settings(sink), helo="agent.test")
    outcomes = {o.message_id: o for o in await route.deliver([envelope(1), utf8_envelope(2)])}
    await route.close()

    assert outcomes[1].kind is OutcomeKind.DELIVERED
    assert outcomes[2].kind is OutcomeKind.FAILED
    assert outcomes[2].reply == NO_SMTPUTF8
    assert outcomes[2].host == sink.host
    assert [r.rcpt_to for r in sink.received] == [("user1@example.test",)]


def _send_to_international(agent: AgentProcess) -> tuple[int, common_pb2.StateCounts]:
    """A campaign to one international and one ASCII address, run to its end."""
    stubs = agent.stubs()
    c = stubs.campaigns.CreateCampaign(campaign_request("utf8"))
    rows = [
        common_pb2.Recipient(email=INTERNATIONAL, name="Émilie", values=["Émilie", "Lyon"]),
        common_pb2.Recipient(email="ann@example.com", values=["Ann", "Paris"]),
    ]
    summary = stubs.campaigns.UploadRecipients(batches(c.id, rows))
    assert summary.accepted == 2, summary.rejections
    ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
    stubs.campaigns.StartCampaign(ref)
    wait_until(
        lambda: stubs.campaigns.GetCampaign(ref).state == campaigns_pb2.CAMPAIGN_STATE_COMPLETED,
        90,
        "the campaign to complete",
    )
    return c.id, stubs.campaigns.GetCampaign(ref).counts


def test_an_agent_sends_an_international_address_with_smtputf8_signed(
    tmp_path: Path, local_dns: LocalDns
) -> None:
    with SmtpSink(smtputf8=True) as sink:
        agent = AgentProcess(tmp_path / "agent", extra_config=relay_config(sink))
        publish_key(agent.config, "shop.example", "utf8", local_dns)
        agent.start()
        try:
            _, counts = _send_to_international(agent)
            got = {r.rcpt_to[0]: r for r in sink.wait_for(2, timeout=60)}
        finally:
            agent.close()
    assert counts.delivered == 2 and counts.failed == 0
    received = got[ON_THE_WIRE]
    assert received.mail_options == ("BODY=8BITMIME", "SMTPUTF8")
    assert got["ann@example.com"].mail_options == ()
    head = received.data.split(b"\r\n\r\n", 1)[0]
    assert f"<{ON_THE_WIRE}>".encode() in head  # RFC 6532: UTF-8 in the header itself
    parsed = email.message_from_string(received.data.decode(), policy=email.policy.default)
    assert parsed["To"].addresses[0].addr_spec == ON_THE_WIRE
    assert parsed["Subject"] == "Hello Émilie"
    # The signature over the UTF-8 header verifies with an independent implementation.
    assert mail_dkim(received.data, local_dns, tmp_path) == {"rsa-sha256": "pass"}
    assert mail_dkim(got["ann@example.com"].data, local_dns, tmp_path) == {"rsa-sha256": "pass"}


def test_an_agent_fails_an_international_address_the_server_cannot_take(
    tmp_path: Path,
) -> None:
    with SmtpSink() as sink:
        agent = AgentProcess(tmp_path / "agent", extra_config=relay_config(sink))
        agent.start()
        try:
            cid, counts = _send_to_international(agent)
            messages = agent.stubs().messages.ListMessages(
                messages_pb2.ListMessagesRequest(campaign_id=cid, limit=10)
            )
        finally:
            agent.close()
        assert [r.rcpt_to for r in sink.received] == [("ann@example.com",)]
    assert counts.delivered == 1 and counts.failed == 1
    by_address = {m.email: m for m in messages.messages}
    failed = by_address[INTERNATIONAL]
    assert failed.state == messages_pb2.MESSAGE_STATE_FAILED
    assert failed.last_reply == NO_SMTPUTF8
