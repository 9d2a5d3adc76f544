"""The SMTP relay route against a real aiosmtpd sink: TLS modes, AUTH, per-recipient replies."""

from __future__ import annotations

import sys
import time

import pytest

from mailfleet.agent.routes.base import OutcomeKind
from mailfleet.agent.routes.settings import DestinationLimits, SmtpRelayRoute
from mailfleet.agent.routes.smtp_relay import SmtpRelay
from tests.agent.routes.conftest import SinkFactory, envelope, relay_settings
from tests.peers.smtp import defer, free_port, refuse, stall


@pytest.mark.parametrize("tls", ["none", "starttls", "implicit"])
async def test_relay_delivers_with_each_tls_mode_and_auth(make_sink: SinkFactory, tls: str) -> None:
    sink = make_sink(tls=tls, users={"mailer": "s3cret"})
    settings = relay_settings(sink, tls=tls, verify_tls=False, username="mailer")
    route = SmtpRelay("relay", settings, helo="agent.test", password="s3cret")
    batch = [envelope(i) for i in range(5)]
    outcomes = await route.deliver(batch)
    await route.close()

    assert sorted(o.message_id for o in outcomes) == list(range(5))
    assert {o.kind for o in outcomes} == {OutcomeKind.DELIVERED}
    assert all(o.reply.startswith("250 2.0.0") and o.host == sink.host for o in outcomes)
    received = sink.received
    assert sorted(r.rcpt_to[0] for r in received) == sorted(e.rcpt_to for e in batch)
    assert all(r.tls == (tls != "none") and r.user == "mailer" for r in received)
    # The route sends the message as given: the sink gets the bytes back un-dot-stuffed.
    assert {r.data for r in received} == {e.data for e in batch}


async def test_wrong_password_defers_with_the_servers_reply(make_sink: SinkFactory) -> None:
    sink = make_sink(tls="starttls", users={"mailer": "s3cret"})
    settings = relay_settings(sink, tls="starttls", verify_tls=False, username="mailer")
    route = SmtpRelay("relay", settings, helo="agent.test", password="wrong")
    outcomes = await route.deliver([envelope(1), envelope(2)])

    # Our credentials are wrong, not the recipients: retry later, never bounce.
    assert {o.kind for o in outcomes} == {OutcomeKind.DEFERRED}
    assert all(o.reply.startswith("535") for o in outcomes)
    assert sink.received == [] and sink.auth_failures >= 1


async def test_verified_tls_refuses_a_self_signed_relay(make_sink: SinkFactory) -> None:
    sink = make_sink(tls="starttls")
    route = SmtpRelay("relay", relay_settings(sink, tls="starttls"), helo="agent.test")
    [outcome] = await route.deliver([envelope(1)])

    assert outcome.kind is OutcomeKind.DEFERRED
    assert "certificate" in outcome.reply.lower()
    assert sink.received == []


async def test_per_recipient_replies_map_exactly(make_sink: SinkFactory) -> None:
    sink = make_sink()
    sink.rule("nouser@example.test", refuse())
    sink.rule("busy@example.test", defer())
    sink.rule("toobig@example.test", refuse("552 5.3.4 Message too big", at="data"))
    sink.rule("later@example.test", defer("452 4.3.1 Out of storage", at="data"))
    sink.rule("banned@sender.test", refuse("553 5.7.1 Sender rejected", at="mail"))
    batch = [
        envelope(1, "ok@example.test"),
        envelope(2, "nouser@example.test"),
        envelope(3, "busy@example.test"),
        envelope(4, "toobig@example.test"),
        envelope(5, "later@example.test"),
        envelope(6, "ok2@example.test", mail_from="banned@sender.test"),
        envelope(7, "ok3@example.test"),
    ]
    limits = DestinationLimits(connections=1, messages_per_connection=100)
    route = SmtpRelay("relay", relay_settings(sink, limits=limits), helo="agent.test")
    outcomes = {o.message_id: o for o in await route.deliver(batch)}
    await route.close()

    expected = {
        1: (OutcomeKind.DELIVERED, "250", "2.0.0"),
        2: (OutcomeKind.BOUNCED, "550", "5.1.1"),
        3: (OutcomeKind.DEFERRED, "451", "4.3.0"),
        4: (OutcomeKind.BOUNCED, "552", "5.3.4"),
        5: (OutcomeKind.DEFERRED, "452", "4.3.1"),
        6: (OutcomeKind.BOUNCED, "553", "5.7.1"),
        7: (OutcomeKind.DELIVERED, "250", "2.0.0"),
    }
    assert {i: (o.kind, o.reply[:3], o.enhanced) for i, o in outcomes.items()} == expected
    # The refusals were RSET away: later messages on the same session still went through.
    assert sorted(r.rcpt_to[0] for r in sink.received) == ["ok3@example.test", "ok@example.test"]
    assert sink.sessions == 1


async def test_a_stalled_server_times_out_quickly_as_deferred(make_sink: SinkFactory) -> None:
    sink = make_sink()
    sink.rule("slow@example.test", stall(30))
    route = SmtpRelay("relay", relay_settings(sink, timeout_seconds=0.5), helo="agent.test")
    started = time.monotonic()
    [outcome] = await route.deliver([envelope(1, "slow@example.test")])

    assert time.monotonic() - started < 5
    assert outcome.kind is OutcomeKind.DEFERRED
    assert "timed out" in outcome.reply and "RCPT TO" in outcome.reply


async def test_nothing_listening_defers_every_message() -> None:
    settings = SmtpRelayRoute(host="127.0.0.1", port=free_port(), tls="none", timeout_seconds=5)
    route = SmtpRelay("relay", settings, helo="agent.test")
    outcomes = await route.deliver([envelope(i) for i in range(3)])

    assert [o.kind for o in outcomes] == [OutcomeKind.DEFERRED] * 3
    assert all("refused" in o.reply.lower() for o in outcomes)


async def test_null_sender_and_unusable_addresses(make_sink: SinkFactory) -> None:
    sink = make_sink()
    batch = [
        envelope(1, "dsn@example.test", mail_from=""),  # bounces go out with MAIL FROM:<>
        envelope(2, "two words@example.test"),
        envelope(3, "a@example.test\r\nRCPT TO:<evil@example.test>"),
        envelope(4, "ok@example.test"),
    ]
    route = SmtpRelay("relay", relay_settings(sink), helo="agent.test")
    outcomes = {o.message_id: o.kind for o in await route.deliver(batch)}
    await route.close()

    assert outcomes == {
        1: OutcomeKind.DELIVERED,
        2: OutcomeKind.FAILED,
        3: OutcomeKind.FAILED,
        4: OutcomeKind.DELIVERED,
    }
    assert sorted((r.mail_from, r.rcpt_to) for r in sink.received) == [
        ("<>", ("dsn@example.test",)),
        ("bounce@sender.test", ("ok@example.test",)),
    ]


async def test_a_421_closes_the_session_and_the_next_message_reconnects(
    make_sink: SinkFactory,
) -> None:
    sink = make_sink()
    sink.rule("shutdown@example.test", defer("421 4.3.2 Shutting down", at="rcpt"))
    limits = DestinationLimits(connections=1, messages_per_connection=100)
    route = SmtpRelay("relay", relay_settings(sink, limits=limits), helo="agent.test")
    outcomes = await route.deliver([envelope(1, "shutdown@example.test"), envelope(2)])
    await route.close()

    assert [(o.kind, o.enhanced) for o in outcomes] == [
        (OutcomeKind.DEFERRED, "4.3.2"),
        (OutcomeKind.DELIVERED, "2.0.0"),
    ]
    assert sink.sessions == 2


async def test_the_sink_spots_a_message_delivered_twice(make_sink: SinkFactory) -> None:
    sink = make_sink(keep_data=False)
    route = SmtpRelay("relay", relay_settings(sink), helo="agent.test")
    await route.deliver([envelope(1), envelope(2)])
    assert sink.duplicates() == [] and sink.count == 2
    await route.deliver([envelope(1)])
    await route.close()

    [(rcpt, _digest)] = sink.duplicates()
    assert rcpt == "user1@example.test"
    assert {r.data for r in sink.received} == {b""}  # only digests were kept


async def test_a_server_without_ehlo_is_greeted_with_helo(make_sink: SinkFactory) -> None:
    sink = make_sink(esmtp=False)
    route = SmtpRelay("relay", relay_settings(sink), helo="agent.test")
    [outcome] = await route.deliver([envelope(1)])
    await route.close()

    assert outcome.kind is OutcomeKind.DELIVERED
    assert [r.helo for r in sink.received] == ["agent.test"]


@pytest.mark.skipif(sys.platform == "win32", reason="workers use uvloop only where it exists")
@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_tls_sessions_work_on_uvloop_as_the_workers_run_them(
    make_sink: SinkFactory, tls: str
) -> None:
    # The wire takes the transport over from aiosmtplib after TLS: uvloop's own TLS transport
    # must hand its protocol over as asyncio's does.
    import uvloop

    sink = make_sink(tls=tls)
    route = SmtpRelay("relay", relay_settings(sink, tls=tls, verify_tls=False), helo="agent.test")

    async def send() -> list[OutcomeKind]:
        outcomes = await route.deliver([envelope(i) for i in range(4)])
        await route.close()
        return [o.kind for o in outcomes]

    assert uvloop.run(send()) == [OutcomeKind.DELIVERED] * 4
    assert sink.count == 4 and all(r.tls for r in sink.received)
