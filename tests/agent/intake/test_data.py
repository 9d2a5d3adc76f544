"""The DATA reader on a real StreamReader: only CRLF.CRLF ends a message, in any split."""

from __future__ import annotations

import asyncio

import pytest

from mailfleet.agent.intake.data import Data, read_data


async def _read(
    chunks: list[bytes], limit: int = 64, max_bytes: int = 10_000, max_line: int = 998
) -> tuple[Data, bytes]:
    reader = asyncio.StreamReader(limit=limit)

    async def feed() -> None:
        for chunk in chunks:
            reader.feed_data(chunk)
            await asyncio.sleep(0)
        reader.feed_eof()

    feeding = asyncio.create_task(feed())
    data = await read_data(reader, max_bytes, max_line)
    await feeding
    return data, await reader.read()


def _bytewise(raw: bytes) -> list[bytes]:
    return [raw[i : i + 1] for i in range(len(raw))]


@pytest.mark.parametrize("split", [False, True])
async def test_the_message_ends_at_crlf_dot_crlf_and_pipelined_commands_stay(split: bool) -> None:
    raw = b"Subject: a.\r\n\r\nline.\r\n..stuffed\r\n.\r\nQUIT\r\n"
    data, rest = await _read(_bytewise(raw) if split else [raw])
    assert data == Data(content=b"Subject: a.\r\n\r\nline.\r\n.stuffed\r\n")
    assert rest == b"QUIT\r\n"


async def test_an_empty_message_and_a_leading_stuffed_dot() -> None:
    assert (await _read([b".\r\nNOOP\r\n"]))[0] == Data(content=b"")
    assert (await _read([b"..\r\n.\r\n"]))[0] == Data(content=b".\r\n")


@pytest.mark.parametrize("fake_end", [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r", b"x.\r\n"])
async def test_other_dot_lines_do_not_end_the_message(fake_end: bytes) -> None:
    raw = b"a" + fake_end + b"MAIL FROM:<x@y.z>\r\n.\r\nNOOP\r\n"
    data, rest = await _read([raw])
    # one message, still holding the smuggled command (a line-start dot is unstuffed as usual)
    assert data.content.endswith(b"MAIL FROM:<x@y.z>\r\n") and data.content.startswith(b"a")
    assert rest == b"NOOP\r\n"


async def test_long_messages_cross_the_stream_limit_in_pieces() -> None:
    body = b"".join(b"line %d ends with a dot.\r\n" % i for i in range(2000))
    pieces = [body[i : i + 700] for i in range(0, len(body), 700)]
    data, rest = await _read([*pieces, b".\r\n"], max_bytes=100_000)
    assert data.content == body and rest == b""


async def test_too_big_and_too_long_are_refused_after_the_end() -> None:
    data, rest = await _read([b"x" * 50 + b"\r\n"] * 300 + [b".\r\nNOOP\r\n"], max_bytes=10_000)
    assert data.refusal.startswith("552") and rest == b"NOOP\r\n"
    data, rest = await _read([b"y" * 1000 + b"\r\n.\r\nNOOP\r\n"])
    assert data.refusal.startswith("500") and rest == b"NOOP\r\n"
    assert (await _read([b"y" * 998 + b"\r\n.\r\n"]))[0].content == b"y" * 998 + b"\r\n"
    assert (await _read([b"." + b"y" * 998 + b"\r\n.\r\n"]))[0].content == b"y" * 998 + b"\r\n"
