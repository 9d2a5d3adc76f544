"""SMTP PIPELINING (RFC 2920) against scripted servers on loopback.

Each server here is a few lines of asyncio that answer exactly as scripted, including the
awkward things real servers do: replies split across packets, several replies in one packet,
multi-line replies, a 354 after every recipient was refused, and garbage instead of a reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from mailfleet.agent.routes.base import OutcomeKind
from mailfleet.agent.routes.settings import DestinationLimits, SmtpRelayRoute
from mailfleet.agent.routes.smtp_relay import SmtpRelay
from tests.agent.routes.conftest import SinkFactory, envelope, relay_settings
from tests.peers.smtp import defer

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, list[bytes]], Awaitable[None]]
Start = Callable[[Script], Awaitable[tuple[int, list[bytes]]]]

_EHLO = b"250-scripted.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"


async def _greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 scripted.test ESMTP\r\n")
    assert (await reader.readline()).startswith(b"EHLO ")
    writer.write(_EHLO)


async def _lines(reader: asyncio.StreamReader, count: int, seen: list[bytes]) -> list[bytes]:
    lines = [await reader.readline() for _ in range(count)]
    seen.extend(lines)
    return lines


async def _message(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n.\r\n")


@pytest.fixture
async def scripted() -> AsyncIterator[Start]:
    """Start a server running ``script`` for each connection; yields (port, lines seen)."""
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> tuple[int, list[bytes]]:
        seen: list[bytes] = []

        async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await script(reader, writer, seen)
            finally:
                writer.close()

        server = await asyncio.start_server(session, "127.0.0.1", 0)
        servers.append(server)
        return server.sockets[0].getsockname()[1], seen

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def _relay(port: int) -> SmtpRelay:
    settings = SmtpRelayRoute(
        host="127.0.0.1",
        port=port,
        tls="none",
        timeout_seconds=5.0,
        limits=DestinationLimits(connections=1, messages_per_connection=100),
    )
    return SmtpRelay("relay", settings, helo="agent.test")


async def test_the_envelope_goes_in_one_write_and_split_replies_are_all_read(
    scripted: Start,
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: list[bytes]) -> None:
        await _greet(r, w)
        for n in range(2):
            # Nothing is answered until all three commands are here: a client that waited
            # for MAIL FROM's reply before sending RCPT TO would time out.
            mail, rcpt, data = await _lines(r, 3, seen)
            assert mail.startswith(b"MAIL FROM:") and rcpt.startswith(b"RCPT TO:")
            assert data == b"DATA\r\n"
            # The three replies, cut across packets at awkward places.
            for piece in (b"250 2.1.0 Ok\r\n25", b"0 2.1.5 Ok\r", b"\n354 Go ahead\r\n"):
                w.write(piece)
                await w.drain()
                await asyncio.sleep(0.02)
            await _message(r)
            w.write(f"250-2.0.0 Ok\r\n250 2.0.0 queued as Q{n}\r\n".encode())
        assert await r.readline() == b"QUIT\r\n"
        w.write(b"221 2.0.0 Bye\r\n")

    port, seen = await scripted(script)
    route = _relay(port)
    outcomes = await route.deliver([envelope(1), envelope(2)])
    await route.close()

    assert [(o.kind, o.reply) for o in outcomes] == [
        (OutcomeKind.DELIVERED, "250 2.0.0 Ok 2.0.0 queued as Q0"),
        (OutcomeKind.DELIVERED, "250 2.0.0 Ok 2.0.0 queued as Q1"),
    ]
    assert [line.split(b":")[0] for line in seen] == [b"MAIL FROM", b"RCPT TO", b"DATA\r\n"] * 2


async def test_a_354_after_a_refused_recipient_gets_an_empty_message_then_rset(
    scripted: Start,
) -> None:
    received: list[bytes] = []

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: list[bytes]) -> None:
        await _greet(r, w)
        await _lines(r, 3, seen)
        # A server that ignores the refusal and invites the message anyway (RFC 2920 3.1).
        w.write(b"250 2.1.0 Ok\r\n550 5.1.1 No such user\r\n354 Go ahead\r\n")
        received.append(await r.readline())
        w.write(b"554 5.5.1 No valid recipients\r\n")
        assert await r.readline() == b"RSET\r\n"
        w.write(b"250 2.0.0 Reset\r\n")
        await _lines(r, 3, seen)
        w.write(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n")
        received.append(await _message(r))
        w.write(b"250 2.0.0 queued\r\n")
        await r.readline()
        w.write(b"221 2.0.0 Bye\r\n")

    port, _ = await scripted(script)
    route = _relay(port)
    outcomes = await route.deliver([envelope(1, "nobody@example.test"), envelope(2)])
    await route.close()

    assert [(o.message_id, o.kind, o.enhanced) for o in outcomes] == [
        (1, OutcomeKind.BOUNCED, "5.1.1"),
        (2, OutcomeKind.DELIVERED, "2.0.0"),
    ]
    assert received[0] == b".\r\n"  # not a byte of the refused message went out
    assert b"Hello 2." in received[1]


async def test_garbage_instead_of_a_reply_defers_and_closes_the_connection(scripted: Start) -> None:
    sessions = 0

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: list[bytes]) -> None:
        nonlocal sessions
        sessions += 1
        await _greet(r, w)
        await _lines(r, 3, seen)
        if sessions == 1:
            w.write(b"250 2.1.0 Ok\r\nHTTP/1.1 400 Bad Request\r\n")
            await r.read()  # until the client hangs up
            return
        w.write(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n")
        await _message(r)
        w.write(b"250 2.0.0 queued\r\n")
        await r.readline()
        w.write(b"221 2.0.0 Bye\r\n")

    port, _ = await scripted(script)
    route = _relay(port)
    [first] = await route.deliver([envelope(1)])
    [second] = await route.deliver([envelope(2)])
    await route.close()

    assert first.kind is OutcomeKind.DEFERRED
    assert "protocol error" in first.reply and "RCPT TO" in first.reply
    assert second.kind is OutcomeKind.DELIVERED
    assert sessions == 2  # the confused connection was dropped, not reused


@pytest.mark.parametrize("pipelining", [True, False])
async def test_refusals_at_each_step_map_exactly_with_and_without_pipelining(
    make_sink: SinkFactory, pipelining: bool
) -> None:
    sink = make_sink(pipelining=pipelining)
    sink.rule("banned@sender.test", defer("421 4.7.0 Go away", at="mail"))
    sink.rule("nouser@example.test", defer("450 4.2.1 Mailbox busy"))
    batch = [
        envelope(1, "nouser@example.test"),
        envelope(2),
        envelope(3, mail_from="banned@sender.test"),  # 421: the session is closed
        envelope(4),
    ]
    limits = DestinationLimits(connections=1, messages_per_connection=100)
    route = SmtpRelay("relay", relay_settings(sink, limits=limits), helo="agent.test")
    outcomes = {o.message_id: (o.kind, o.enhanced) for o in await route.deliver(batch)}
    await route.close()

    assert outcomes == {
        1: (OutcomeKind.DEFERRED, "4.2.1"),
        2: (OutcomeKind.DELIVERED, "2.0.0"),
        3: (OutcomeKind.DEFERRED, "4.7.0"),
        4: (OutcomeKind.DELIVERED, "2.0.0"),
    }
    assert sorted(r.rcpt_to[0] for r in sink.received) == [
        "user2@example.test",
        "user4@example.test",
    ]
    assert sink.sessions == 2


async def test_a_421_sent_to_an_idle_connection_is_not_taken_for_the_next_reply(
    scripted: Start,
) -> None:
    sessions = 0
    said_goodbye = asyncio.Event()
    hung_up = asyncio.Event()

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: list[bytes]) -> None:
        nonlocal sessions
        sessions += 1
        await _greet(r, w)
        await _lines(r, 3, seen)
        w.write(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n")
        await _message(r)
        w.write(b"250 2.0.0 queued\r\n")
        if sessions == 1:
            # Unprompted, once the connection is back in the pool, as servers do before they
            # close an idle connection; and left open.
            await asyncio.sleep(0.1)
            w.write(b"421 4.4.2 Idle too long, closing\r\n")
            said_goodbye.set()
            await r.read()
            hung_up.set()
            return
        await r.readline()
        w.write(b"221 2.0.0 Bye\r\n")

    port, _ = await scripted(script)
    route = _relay(port)
    [first] = await route.deliver([envelope(1)])
    await said_goodbye.wait()
    await asyncio.sleep(0.05)  # the 421 reaches the client
    [second] = await route.deliver([envelope(2)])
    await route.close()

    assert (first.kind, second.kind) == (OutcomeKind.DELIVERED, OutcomeKind.DELIVERED)
    assert sessions == 2  # a fresh connection for the second message, no deferral
    await asyncio.wait_for(hung_up.wait(), 5)  # and the old one was closed, not leaked
