"""What DATA puts on the wire: CRLF line ends, dot-stuffing and the end-of-data line."""

from __future__ import annotations

import pytest

from mailfleet.agent.routes.smtp.wire import wire_data


@pytest.mark.parametrize(
    ("message", "wire"),
    [
        (b"Subject: a\r\n\r\nbody\r\n", b"Subject: a\r\n\r\nbody\r\n.\r\n"),
        (b"Subject: a\r\n\r\nno final line end", b"Subject: a\r\n\r\nno final line end\r\n.\r\n"),
        (
            b"A: 1\r\n\r\n.hidden\r\n..two\r\n.\r\n",
            b"A: 1\r\n\r\n..hidden\r\n...two\r\n..\r\n.\r\n",
        ),
        (b".first line\r\n", b"..first line\r\n.\r\n"),
        # Bare LF and bare CR (a client's raw MIME) become CRLF before stuffing.
        (b"A: 1\n\n.x\nb\rc\r\n", b"A: 1\r\n\r\n..x\r\nb\r\nc\r\n.\r\n"),
    ],
)
def test_messages_are_framed_for_data(message: bytes, wire: bytes) -> None:
    assert wire_data(message) == wire


def test_no_line_of_the_message_can_end_the_data_early() -> None:
    message = b"X: 1\r\n\r\n.\r\nafter\r\n.\r\n"
    framed = wire_data(message)
    assert framed.endswith(b"\r\n.\r\n")
    assert framed[:-3].count(b"\r\n.\r\n") == 0
