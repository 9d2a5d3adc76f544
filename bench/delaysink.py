"""A minimal SMTP sink for benchmarks that answers every command after a fixed delay.

Postfix's smtp-sink only delays in whole seconds; real destinations answer in tens to hundreds
of milliseconds. This sink is a bare asyncio protocol (no parsing beyond the command verb), so
it costs little CPU while holding hundreds of slow sessions open; it runs on uvloop, because
on this 2-core machine every CPU-millisecond the stand-in spends is taken from the agent it
measures. Run it as a process:
``python -m bench.delaysink PORT DELAY_SECONDS EXPECTED`` prints one line when EXPECTED
messages have arrived and keeps answering (replies still on their way) until it is killed.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import cast

import uvloop


class _Session(asyncio.Protocol):
    def __init__(self, sink: DelaySink) -> None:
        self._sink = sink
        self._buffer = b""
        self._in_data = False
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport is not an asyncio.Transport subclass, but it is one in kind.
        self._transport = cast(asyncio.Transport, transport)
        self._reply(b"220 delaysink ESMTP\r\n", delay=False)

    def _reply(self, line: bytes, delay: bool = True) -> None:
        transport = self._transport
        if transport is None:
            return
        if delay and self._sink.delay:
            asyncio.get_running_loop().call_later(self._sink.delay, self._write, line)
        else:
            self._write(line)

    def _write(self, line: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(line)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            if self._in_data:
                end = self._buffer.find(b"\r\n.\r\n")
                if end < 0:
                    return
                self._buffer = self._buffer[end + 5 :]
                self._in_data = False
                self._sink.received()
                self._reply(b"250 2.0.0 Ok: queued\r\n")
                continue
            end = self._buffer.find(b"\r\n")
            if end < 0:
                return
            line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
            verb = line[:4].upper()
            if verb == b"EHLO":
                self._reply(b"250-delaysink\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                self._in_data = True
                self._reply(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            elif verb == b"QUIT":
                self._write(b"221 2.0.0 Bye\r\n")
                if self._transport is not None:
                    self._transport.close()
                return
            else:
                self._reply(b"250 2.0.0 Ok\r\n")

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


class DelaySink:
    """Counts messages; ``done`` is set when ``expected`` of them have arrived."""

    def __init__(self, delay: float, expected: int) -> None:
        self.delay = delay
        self.expected = expected
        self.count = 0
        self.first: float | None = None
        self.done = asyncio.Event()

    def received(self) -> None:
        self.count += 1
        if self.first is None:
            self.first = time.monotonic()
        if self.count >= self.expected:
            self.done.set()


async def _main(port: int, delay: float, expected: int) -> None:
    sink = DelaySink(delay, expected)
    server = await asyncio.get_running_loop().create_server(
        lambda: _Session(sink), "127.0.0.1", port, backlog=4096
    )
    print("ready", flush=True)
    async with server:
        await sink.done.wait()
        elapsed = time.monotonic() - (sink.first or time.monotonic())
        print(f"received {sink.count} in {elapsed:.2f} s", flush=True)
        await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    uvloop.run(_main(int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])))
