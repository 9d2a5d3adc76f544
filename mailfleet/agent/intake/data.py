"""Reading one message's DATA from the stream, in large pieces rather than line by line.

The only end of data is CRLF "." CRLF (RFC 5321 section 4.1.1.4), where the CRLF ends the
line before (for an empty message, the DATA command's own line). The reader asks the stream
for everything up to the next ".\\r\\n" and checks what precedes it, so a message costs a few
calls instead of one per line; anything the client pipelined after the end stays in the stream
for the command loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

_DOT_LINE = b".\r\n"


@dataclass(frozen=True)
class Data:
    """A message as received: its bytes (dots unstuffed), or the reply that refuses it."""

    content: bytes = b""
    refusal: str = ""


async def read_data(reader: asyncio.StreamReader, max_bytes: int, max_line: int) -> Data:
    """Read up to and including the end-of-data line.

    Over ``max_bytes`` or with a line longer than ``max_line`` (without its CRLF) the rest is
    read and dropped, and a refusal is returned, as RFC 5321 section 4.2.5 suggests: the reply
    comes after the end of data.
    """
    data = bytearray()
    received = 0
    too_big = False
    while True:
        try:
            piece = await reader.readuntil(_DOT_LINE)
            found = True
        except asyncio.LimitOverrunError as exc:
            # No ".\r\n" in the buffer's first part: take that part and read on.
            piece = await reader.read(exc.consumed)
            found = False
        received += len(piece)
        data += piece
        if found:
            end = len(data) - len(_DOT_LINE)
            if end == 0 or (end >= 2 and data[end - 2 : end] == b"\r\n"):
                del data[end:]
                break
        if received > max_bytes:
            too_big = True
            del data[:-2]  # keep only what the next piece's end check needs
    if too_big:
        return Data(refusal="552 5.3.4 Message too big for this system")
    # A line may hold a stuffed dot and its CR besides its text (bare CRs and LFs are refused
    # later, by the framing check).
    longest = max_line + 2
    if len(data) > longest and max(map(len, data.split(b"\n"))) > longest:
        return Data(refusal="500 5.5.2 Line too long (RFC 5321 section 4.5.3.1.6)")
    if data.startswith(b"."):
        del data[0]
    return Data(content=bytes(data.replace(b"\r\n.", b"\r\n")))
