"""One SMTP session over aiosmtplib: open (greeting, EHLO, TLS, AUTH), send messages, close.

A session sends one message per transaction (MAIL FROM, RCPT TO, DATA) and turns the reply
at whichever step ended the transaction into the message's outcome.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import ssl
import time
from dataclasses import dataclass
from typing import Literal

import aiosmtplib

from mailfleet.agent.routes.base import Envelope, Outcome, OutcomeKind, RouteConfigError
from mailfleet.agent.routes.smtp.replies import deferred, describe_error, failed, from_reply
from mailfleet.agent.routes.smtp.wire import Wire, wire_data
from mailfleet.agent.validation import needs_smtputf8

log = logging.getLogger("mailfleet.agent.routes")

TlsMode = Literal["none", "starttls", "implicit", "opportunistic", "required"]

# What cannot appear in a bare address on a command line: spaces, brackets, controls.
_UNSAFE = re.compile(r"[\s<>\x00-\x1f\x7f]")

# Why a message with an international address fails at a server without SMTPUTF8.
NO_SMTPUTF8 = "the receiving server does not accept international addresses (SMTPUTF8)"

# QUIT is a courtesy; a destination that does not answer it quickly is simply dropped.
_QUIT_TIMEOUT = 5.0


class SessionLost(Exception):
    """The connection was gone before the message's first command was answered.

    Nothing of the message reached the server, so the caller may send it again on a fresh
    connection without risking a duplicate (typically an idle connection the server closed).
    """


class TlsUnavailable(aiosmtplib.SMTPException):
    """TLS is required but the server does not offer STARTTLS."""


class StartTlsFailed(aiosmtplib.SMTPException):
    """The server offered STARTTLS but the upgrade failed (refused, or a bad handshake)."""


@dataclass(frozen=True)
class SessionOptions:
    """How to reach and greet one server."""

    address: str  # what to connect to: a host name or an IP address
    port: int
    host: str  # the name reported in outcomes (relay host or MX name)
    helo: str
    timeout: float
    tls: TlsMode = "none"
    verify_tls: bool = True
    username: str = ""
    password: str = ""
    source_address: str = ""
    # Extra trusted CA certificates (PEM file) when verifying.
    ca_file: str = ""

    def __repr__(self) -> str:
        # Never let the password reach a log line or a traceback through repr().
        return f"SessionOptions(host={self.host!r}, address={self.address!r}, port={self.port})"


def check_helo(name: str) -> str:
    """``name`` if it can follow EHLO; raises :class:`RouteConfigError` at build time otherwise."""
    if not name or _UNSAFE.search(name):
        raise RouteConfigError(f"HELO name {name!r} is empty or has spaces or control characters")
    return name


@functools.cache
def _tls_context(verify: bool, ca_file: str = "") -> ssl.SSLContext:
    # Built once per process: loading the system's CA store costs milliseconds per call.
    context = ssl.create_default_context()
    if verify and ca_file:
        context.load_verify_locations(ca_file)
    if not verify:
        # MTAs encrypt opportunistically without authenticating the peer (RFC 7435).
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def open_session(options: SessionOptions) -> Session:
    """Connect, read the greeting, EHLO, upgrade to TLS as configured, authenticate.

    Raises aiosmtplib's errors, ``OSError`` or :class:`TlsUnavailable`; the caller decides
    whether to try another host.
    """
    # An MX is verified only when asked (MTA-STS enforce); relays with starttls or implicit.
    verify = options.verify_tls and options.tls in ("starttls", "implicit", "required")
    smtp = aiosmtplib.SMTP(
        hostname=options.address,
        port=options.port,
        local_hostname=options.helo,
        source_address=(options.source_address, 0) if options.source_address else None,
        timeout=options.timeout,
        use_tls=options.tls == "implicit",
        start_tls=False,  # upgraded below, so a missing STARTTLS is ours to judge
        validate_certs=verify,
        tls_context=_tls_context(verify, options.ca_file) if options.tls != "none" else None,
    )
    await smtp.connect()
    try:
        try:
            await smtp.ehlo()
        except aiosmtplib.SMTPHeloError:
            if not smtp.is_connected:
                raise
            await smtp.helo()  # an old server without ESMTP (RFC 5321 section 3.2)
        if options.tls in ("starttls", "opportunistic", "required"):
            if smtp.supports_extension("starttls"):
                try:
                    await smtp.starttls(server_hostname=options.host if verify else None)
                except (aiosmtplib.SMTPException, OSError) as exc:
                    # A failed handshake often shows up as a dropped connection, not an SSLError.
                    raise StartTlsFailed(f"STARTTLS with {options.host} failed: {exc}") from exc
                await smtp.ehlo()
            elif options.tls != "opportunistic":
                raise TlsUnavailable(f"{options.host} does not offer STARTTLS")
        if options.username:
            await smtp.login(options.username, options.password)
    except BaseException:
        smtp.close()
        raise
    return Session(smtp, options.host)


def _path(address: str) -> bytes:
    """``<address>`` for MAIL FROM / RCPT TO, an IDN domain in its ASCII form (A-labels);
    raises ValueError for what no server could take."""
    if _UNSAFE.search(address):
        raise ValueError(f"{address!r} is not a bare address")
    if address.isascii():
        return f"<{address}>".encode("ascii")
    local, _, domain = address.rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{address!r} has an invalid domain") from None
    return f"<{local}@{domain}>".encode()


def _needs_smtputf8(envelope: Envelope) -> bool:
    """Whether the message can only go with SMTPUTF8 (RFC 6531): a UTF-8 local part in the
    envelope or in the header; ASCII envelopes are decided by two ``isascii`` calls."""
    if envelope.utf8_headers:
        return True
    if envelope.mail_from.isascii() and envelope.rcpt_to.isascii():
        return False
    return needs_smtputf8(envelope.mail_from) or needs_smtputf8(envelope.rcpt_to)


class Session:
    """An open, greeted SMTP connection that sends one message per transaction.

    When the server offers PIPELINING (RFC 2920), MAIL FROM, RCPT TO and DATA go out in one
    write and their three replies are read together: half the round trips of waiting for
    each, which matters most to destinations that answer slowly.
    """

    def __init__(self, smtp: aiosmtplib.SMTP, host: str) -> None:
        if smtp.transport is None:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        self._wire = Wire(smtp.transport)
        self._timeout = smtp.timeout
        self._pipelining = smtp.supports_extension("pipelining")
        self._smtputf8 = smtp.supports_extension("smtputf8")
        self.host = host
        self.sent = 0  # transactions tried, counted against messages_per_connection
        self.idle_since = time.monotonic()

    @property
    def usable(self) -> bool:
        """Whether the connection is still open and quiet (the server may have closed it, or
        be about to: it says 421 first)."""
        return self._wire.idle

    async def send(self, envelope: Envelope) -> Outcome:
        """Run one transaction; the reply that ended it becomes the outcome.

        Raises :class:`SessionLost` only when the connection was already gone at MAIL FROM.
        """
        self.sent += 1
        utf8 = _needs_smtputf8(envelope)
        if utf8 and not self._smtputf8:
            return Outcome(envelope.message_id, OutcomeKind.FAILED, NO_SMTPUTF8, self.host)
        try:
            sender, recipient = _path(envelope.mail_from), _path(envelope.rcpt_to)
        except ValueError as exc:
            return failed(envelope.message_id, f"unusable envelope: {exc}")
        commands = (
            # UTF-8 in the header is 8-bit content: a server with SMTPUTF8 has 8BITMIME too.
            b"MAIL FROM:" + sender + (b" BODY=8BITMIME SMTPUTF8\r\n" if utf8 else b"\r\n"),
            b"RCPT TO:" + recipient + b"\r\n",
            b"DATA\r\n",
        )
        replies: list[aiosmtplib.SMTPResponse] = []
        try:
            # One deadline for the whole transaction: a timer per command costs more CPU than
            # the commands themselves.
            async with asyncio.timeout(self._timeout):
                refusal = await self._envelope(commands, replies)
                if refusal is not None:
                    await self._reset(replies)
                    return from_reply(envelope.message_id, refusal.code, refusal.message, self.host)
                self._wire.write(wire_data(envelope.data))
                await self._wire.drain()
                reply = await self._wire.reply()
        except asyncio.CancelledError:
            # Cancelled mid-transaction: the next MAIL FROM would be refused, so never reuse.
            self._wire.close()
            raise
        except (aiosmtplib.SMTPException, OSError) as exc:  # TimeoutError is an OSError
            self._wire.close()
            if refusal := _refusal(replies):
                # The connection died after the transaction was already refused (a 421).
                return from_reply(envelope.message_id, refusal.code, refusal.message, self.host)
            if not replies and isinstance(exc, aiosmtplib.SMTPServerDisconnected | ConnectionError):
                raise SessionLost(describe_error(exc)) from exc
            step = _STEPS[len(replies)] if len(replies) < len(_STEPS) else "end of data"
            return deferred(envelope.message_id, f"{describe_error(exc)} (at {step})", self.host)
        if reply.code == 421:
            self._wire.close()  # the server is shutting the connection down (RFC 5321 3.8)
        return from_reply(envelope.message_id, reply.code, reply.message, self.host)

    async def _envelope(
        self, commands: tuple[bytes, bytes, bytes], replies: list[aiosmtplib.SMTPResponse]
    ) -> aiosmtplib.SMTPResponse | None:
        """Send MAIL FROM, RCPT TO and DATA, appending each reply to ``replies``; the reply
        that refused the transaction, or None once DATA's 354 invites the message."""
        wire = self._wire
        if self._pipelining:
            wire.write(b"".join(commands))
            # Every reply is read, whatever the first ones said (RFC 2920 section 3.1).
            for _ in commands:
                replies.append(await wire.reply())
            return _refusal(replies)
        for command in commands:
            wire.write(command)
            replies.append(await wire.reply())
            if refusal := _refusal(replies):
                return refusal
        return None

    async def _reset(self, replies: list[aiosmtplib.SMTPResponse]) -> None:
        """End a refused transaction so the next one starts clean.

        A server that accepted DATA although MAIL FROM or RCPT TO was refused (RFC 2920
        allows for it) gets an empty message ended at once, then RSET.
        """
        wire = self._wire
        if not wire.open:
            return  # e.g. after a 421, which closes the connection
        if any(r.code == 421 for r in replies):
            wire.close()
            return
        try:
            if len(replies) == len(_STEPS) and replies[-1].code == 354:
                wire.write(b".\r\n")
                await wire.reply()
            wire.write(b"RSET\r\n")
            if (await wire.reply()).code != 250:
                wire.close()
        except (aiosmtplib.SMTPException, OSError):
            wire.close()

    def drop(self) -> None:
        """Close the connection without a word (the server has said goodbye already)."""
        self._wire.close()

    async def close(self) -> None:
        """QUIT politely, then drop the connection whatever the answer."""
        wire = self._wire
        try:
            if wire.open:
                wire.write(b"QUIT\r\n")
                async with asyncio.timeout(min(_QUIT_TIMEOUT, self._timeout or _QUIT_TIMEOUT)):
                    await wire.reply()
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.debug("QUIT to %s failed: %s", self.host, describe_error(exc))
        finally:
            wire.close()


# The transaction's steps, in order; a failure is reported "at" the step whose reply was due.
_STEPS = ("MAIL FROM", "RCPT TO", "DATA")
# The replies that let the transaction go on, per step.
_GOOD = ((250,), (250, 251), (354,))


def _refusal(replies: list[aiosmtplib.SMTPResponse]) -> aiosmtplib.SMTPResponse | None:
    """The first reply in ``replies`` that refused its step, if any."""
    for reply, good in zip(replies, _GOOD, strict=False):
        if reply.code not in good:
            return reply
    return None
