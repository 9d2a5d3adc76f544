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

from agent.routes.base import Envelope, Outcome, RouteConfigError
from agent.routes.replies import deferred, describe_error, failed, from_reply

log = logging.getLogger("mailfleet.agent.routes")

TlsMode = Literal["none", "starttls", "implicit", "opportunistic", "required"]

# What cannot appear in a bare address on a command line: spaces, brackets, controls.
_UNSAFE = re.compile(r"[\s<>\x00-\x1f\x7f]")

# Any line end that is not CRLF: a bare LF, or a CR not followed by LF.
_LINE_END = re.compile(rb"\r\n|\n|\r(?!\n)")

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


def wire_data(message: bytes) -> bytes:
    """``message`` as DATA sends it: CRLF line ends, dot-stuffed, ended by ``CRLF . CRLF``."""
    crlf = message.count(b"\r\n")
    if message.count(b"\r") != crlf or message.count(b"\n") != crlf:
        message = _LINE_END.sub(b"\r\n", message)  # bare CR or LF, e.g. in a client's raw MIME
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    if message.startswith(b"."):
        message = b"." + message
    return message.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def _path(address: str, utf8: bool) -> bytes:
    """``<address>`` for MAIL FROM / RCPT TO; raises ValueError for what no server could take."""
    if _UNSAFE.search(address):
        raise ValueError(f"{address!r} is not a bare address")
    return f"<{address}>".encode("utf-8" if utf8 else "ascii")


def _utf8(utf8: bool) -> tuple[bytes, ...]:
    """The MAIL FROM parameter an internationalised envelope needs (RFC 6531)."""
    return (b"SMTPUTF8",) if utf8 else ()


class Session:
    """An open, greeted SMTP connection that sends one message per transaction."""

    def __init__(self, smtp: aiosmtplib.SMTP, host: str) -> None:
        self._smtp = smtp
        self.host = host
        self.sent = 0  # transactions tried, counted against messages_per_connection
        self.idle_since = time.monotonic()

    @property
    def usable(self) -> bool:
        """Whether the connection is still open (the server may have closed it)."""
        return self._smtp.is_connected

    async def send(self, envelope: Envelope) -> Outcome:
        """Run one transaction; the reply that ended it becomes the outcome.

        Raises :class:`SessionLost` only when the connection was already gone at MAIL FROM.
        """
        self.sent += 1
        utf8 = not (envelope.mail_from.isascii() and envelope.rcpt_to.isascii())
        if utf8 and not self._smtp.supports_extension("smtputf8"):
            return failed(envelope.message_id, f"{self.host} does not accept non-ASCII addresses")
        try:
            sender, recipient = _path(envelope.mail_from, utf8), _path(envelope.rcpt_to, utf8)
        except ValueError as exc:
            return failed(envelope.message_id, f"unusable envelope: {exc}")
        step = "MAIL FROM"
        smtp = self._smtp
        try:
            # One deadline for the whole transaction instead of aiosmtplib's timer per command
            # (four per message): the timers cost more CPU than the commands themselves.
            async with asyncio.timeout(smtp.timeout):
                # Commands are built here rather than by aiosmtplib's mail()/rcpt(), whose
                # address parsing (email.utils) cost more CPU than the rest of the transaction.
                mail = await smtp.execute_command(
                    b"MAIL", b"FROM:" + sender, *_utf8(utf8), timeout=None
                )
                if mail.code != 250:
                    raise aiosmtplib.SMTPSenderRefused(mail.code, mail.message, envelope.mail_from)
                step = "RCPT TO"
                rcpt = await smtp.execute_command(b"RCPT", b"TO:" + recipient, timeout=None)
                if rcpt.code not in (250, 251):
                    raise aiosmtplib.SMTPRecipientRefused(rcpt.code, rcpt.message, envelope.rcpt_to)
                step = "DATA"
                start = await smtp.execute_command(b"DATA", timeout=None)
                if start.code != 354:
                    raise aiosmtplib.SMTPDataError(start.code, start.message)
                reply = await self._transfer(envelope.data)
        except aiosmtplib.SMTPResponseException as exc:
            # Refused at MAIL, RCPT or DATA (or DATA's final reply): the reply decides.
            await self._reset()
            return from_reply(envelope.message_id, exc.code, exc.message, self.host)
        except asyncio.CancelledError:
            # Cancelled mid-transaction: the next MAIL FROM would be refused, so never reuse.
            smtp.close()
            raise
        except (aiosmtplib.SMTPException, OSError) as exc:  # TimeoutError is an OSError
            smtp.close()
            if step == "MAIL FROM" and isinstance(exc, ConnectionError):
                raise SessionLost(describe_error(exc)) from exc
            return deferred(envelope.message_id, f"{describe_error(exc)} (at {step})", self.host)
        if reply.code == 421:
            smtp.close()  # the server is shutting the connection down (RFC 5321 section 3.8)
        return from_reply(envelope.message_id, reply.code, reply.message, self.host)

    async def _transfer(self, data: bytes) -> aiosmtplib.SMTPResponse:
        """Send the message after DATA's 354 and read the final reply.

        aiosmtplib's data() runs two regular expressions over the whole message to fix line
        ends and dot-stuff it; for messages that already have CRLF line ends (all rendered
        ones) plain byte replacement does the same at a fraction of the cost.
        """
        protocol = self._smtp.protocol
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        protocol.write(wire_data(data))
        return await protocol.read_response(timeout=None)

    async def _reset(self) -> None:
        """RSET after a refused transaction so the next one starts clean."""
        if not self._smtp.is_connected:
            return  # e.g. after a 421, which closes the connection
        try:
            await self._smtp.rset()
        except (aiosmtplib.SMTPException, OSError):
            self._smtp.close()

    async def close(self) -> None:
        """QUIT politely, then drop the connection whatever the answer."""
        try:
            if self._smtp.is_connected:
                await self._smtp.quit(
                    timeout=min(_QUIT_TIMEOUT, self._smtp.timeout or _QUIT_TIMEOUT)
                )
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.debug("QUIT to %s failed: %s", self.host, describe_error(exc))
        finally:
            self._smtp.close()
