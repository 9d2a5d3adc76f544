"""An open SMTP connection's bytes: commands out, every reply in, in order.

aiosmtplib opens the session (greeting, EHLO, STARTTLS, AUTH) and then hands its transport to
:class:`Wire`. aiosmtplib reads exactly one reply per command written and drops whatever else
arrives, so it cannot pipeline (RFC 2920: MAIL FROM, RCPT TO and DATA written at once, their
three replies read afterwards); a wire queues each reply as it completes, however the server's
bytes are split into packets, so any number of commands can be answered in one read.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from typing import cast

import aiosmtplib
from aiosmtplib import SMTPResponse

# Bounds on a reply line and on a whole multi-line reply: a server streaming bytes without a
# line end (or endless continuation lines) must not exhaust memory.
_MAX_LINE = 8192
_MAX_REPLY = _MAX_LINE * 4
_CODE = re.compile(rb"[2-5]\d\d")

# Any line end that is not CRLF: a bare LF, or a CR not followed by LF.
_LINE_END = re.compile(rb"\r\n|\n|\r(?!\n)")
# A line that begins with a dot, which DATA must double.
_DOT_LINE = re.compile(rb"\r\n\.")


class ReplyError(aiosmtplib.SMTPServerDisconnected):
    """The server sent something that is not an SMTP reply; the connection is closed."""


def wire_data(message: bytes) -> bytes:
    """``message`` as DATA sends it: CRLF line ends, dot-stuffed, ended by ``CRLF . CRLF``."""
    crlf = message.count(b"\r\n")
    if message.count(b"\r") != crlf or message.count(b"\n") != crlf:
        message = _LINE_END.sub(b"\r\n", message)  # bare CR or LF, e.g. in a client's raw MIME
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    if message.startswith(b"."):
        message = b"." + message
    if _DOT_LINE.search(message):  # found by a regular expression faster than by bytes.find
        message = message.replace(b"\r\n.", b"\r\n..")
    return message + b".\r\n"


class Wire(asyncio.Protocol):
    """The protocol of an open SMTP connection from the first mail transaction on."""

    def __init__(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but they are in kind.
        self._transport = cast(asyncio.Transport, transport)
        self._buffer = bytearray()
        self._lines: list[str] = []  # the lines so far of a multi-line reply
        self._replies: deque[SMTPResponse] = deque()
        self._error: aiosmtplib.SMTPServerDisconnected | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._transport.set_protocol(self)

    @property
    def open(self) -> bool:
        """Whether commands can still be written (the server may have closed the connection)."""
        return self._error is None and not self._transport.is_closing()

    @property
    def idle(self) -> bool:
        """Open, with no reply waiting to be read: a reply nobody asked for (a server's 421
        before it hangs up an idle connection) would be taken for the next command's."""
        return self.open and not self._replies

    def write(self, data: bytes) -> None:
        """Queue ``data`` for sending; raises when the connection is gone."""
        if not self.open:
            raise self._error or aiosmtplib.SMTPServerDisconnected("Connection lost")
        self._transport.write(data)

    async def drain(self) -> None:
        """Wait while the transport's send buffer is over its high-water mark."""
        while self._writable is not None and self._error is None:
            await asyncio.shield(self._writable)
        if self._error is not None:
            raise self._error

    async def reply(self) -> SMTPResponse:
        """The next reply, in the order the server sent them."""
        while not self._replies:
            if self._error is not None:
                raise self._error
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._replies.popleft()

    def close(self) -> None:
        """Drop the connection (nothing more is read or written)."""
        self._fail(aiosmtplib.SMTPServerDisconnected("Connection closed"))
        self._transport.close()

    # ---- asyncio.Protocol ----------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Queue every complete reply in ``data`` (with what was left over before)."""
        if self._error is not None:
            return
        buffer = self._buffer
        buffer += data
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            line = bytes(buffer[start : end + 1])
            start = end + 1
            if not self._add(line):
                return
        del buffer[:start]
        if len(buffer) > _MAX_LINE:
            self._broken("reply line too long")
        elif self._replies and self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _add(self, line: bytes) -> bool:
        """Take one reply line; False once the connection is broken by it."""
        if len(line) > _MAX_LINE or not _CODE.match(line):
            self._broken(f"malformed reply line {line[:80]!r}")
            return False
        self._lines.append(line[4:].strip(b" \t\r\n").decode("utf-8", "surrogateescape"))
        if line[3:4] == b"-":
            if sum(map(len, self._lines)) > _MAX_REPLY:
                self._broken("reply too long")
                return False
            return True
        self._replies.append(SMTPResponse(int(line[:3]), "\n".join(self._lines)))
        self._lines = []
        return True

    def _broken(self, reason: str) -> None:
        self._fail(ReplyError(f"protocol error: {reason}"))
        self._transport.close()

    def _fail(self, error: aiosmtplib.SMTPServerDisconnected) -> None:
        if self._error is None:
            self._error = error
        for future in (self._waiter, self._writable):
            if future is not None and not future.done():
                future.set_result(None)

    def eof_received(self) -> bool:
        """The server closed its side: no more replies will come."""
        self._fail(aiosmtplib.SMTPServerDisconnected("Unexpected EOF received"))
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone; pending and later reads raise."""
        error = aiosmtplib.SMTPServerDisconnected("Connection lost")
        error.__cause__ = exc
        self._fail(error)

    def pause_writing(self) -> None:
        """The send buffer is full: writers wait in :meth:`drain`."""
        if self._writable is None:
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        """The send buffer has room again."""
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)
