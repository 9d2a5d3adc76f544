"""Hostile input: each is refused or the connection closed, and none yields an extra message.

Every test counts the 250 replies to a final dot against the messages that appeared in the
queue.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from tests.agent.intake.peer import DOMAIN, IntakeAgent, RawSmtp, message, raw
from tests.peers.smtp import SmtpSink


@pytest.fixture(scope="module")
def intake(sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IntakeAgent]:
    """An agent that pauses its greeting, so a client talking first is always caught."""
    agent = IntakeAgent(
        tmp_path_factory.mktemp("hostile") / "agent", sink.port, "greet_pause_seconds = 0.3"
    )
    try:
        yield agent
    finally:
        agent.close()


def _envelope(c: RawSmtp) -> None:
    assert c.cmd("EHLO client.test").startswith("250")
    assert c.cmd(f"MAIL FROM:<app@{DOMAIN}>").startswith("250")
    assert c.cmd("RCPT TO:<victim@dest.example>").startswith("250")
    assert c.cmd("DATA").startswith("354")


def _submit_raw(intake: IntakeAgent, body: bytes) -> list[str]:
    """Send ``body`` as DATA (it must end the data itself); return every reply that follows."""
    with raw(intake.ports.trusted) as c:
        _envelope(c)
        c.send(body)
        replies = [c.reply()]
        # Anything the server took for further commands would answer before this NOOP does.
        c.send(b"NOOP\r\n")
        while not (reply := c.reply()).startswith("250 2.0.0 OK") and reply:
            replies.append(reply)
        return replies


HEAD = f"From: <app@{DOMAIN}>\r\nTo: <victim@dest.example>\r\nSubject: hi\r\n\r\n".encode()
SMUGGLED = (
    b"MAIL FROM:<app@shop.example>{e}RCPT TO:<smuggled@dest.example>{e}DATA{e}"
    b"From: <app@shop.example>{e}{e}smuggled{e}.{e}"
)


@pytest.mark.parametrize(
    ("name", "end"),
    [
        ("LF.LF", b"\n.\n"),
        ("CRLF.LF", b"\r\n.\n"),
        ("LF.CRLF", b"\n.\r\n"),
        ("CR.CR", b"\r.\r"),
        ("CRLF.CR", b"\r\n.\r"),
        ("CR.CRLF", b"\r.\r\n"),
    ],
)
def test_end_of_data_smuggling_never_yields_a_second_message(
    intake: IntakeAgent, name: str, end: bytes
) -> None:
    before = len(intake.queued())
    eol = end[-1:]  # the smuggler's own line end, matching its fake end-of-data
    smuggled = SMUGGLED.replace(b"{e}", eol)
    replies = _submit_raw(intake, HEAD + b"first" + end + smuggled + b"\r\n.\r\n")
    assert replies == [replies[0]], name  # one reply: the rest was data, not commands
    assert replies[0].startswith("554 5.6.0"), replies
    assert len(intake.queued()) == before


@pytest.mark.parametrize(
    ("name", "body", "code"),
    [
        ("bare LF", HEAD + b"line one\nline two\r\n.\r\n", "554 5.6.0"),
        ("bare CR", HEAD + b"line one\rline two\r\n.\r\n", "554 5.6.0"),
        ("NUL byte", HEAD + b"line\x00one\r\n.\r\n", "554 5.6.0"),
        ("over-long line", HEAD + b"x" * 1200 + b"\r\n.\r\n", "500"),
    ],
)
def test_malformed_data_is_refused(intake: IntakeAgent, name: str, body: bytes, code: str) -> None:
    before = len(intake.queued())
    replies = _submit_raw(intake, body)
    assert len(replies) == 1 and replies[0].startswith(code), (name, replies)
    assert len(intake.queued()) == before


def test_a_clean_message_on_the_same_path_is_accepted(intake: IntakeAgent) -> None:
    before = len(intake.queued())
    replies = _submit_raw(intake, message().encode() + b".\r\n")
    assert len(replies) == 1 and replies[0].startswith("250 2.0.0")
    assert len(intake.queued()) == before + 1


def test_an_over_long_command_line_is_refused(intake: IntakeAgent) -> None:
    before = len(intake.queued())
    with raw(intake.ports.trusted) as c:
        assert c.cmd("EHLO client.test").startswith("250")
        assert c.cmd(f"MAIL FROM:<{'a' * 2000}@{DOMAIN}>").startswith("500")
        assert c.cmd("NOOP").startswith("250")
    assert len(intake.queued()) == before


def test_commands_before_the_greeting_close_the_connection(intake: IntakeAgent) -> None:
    before = len(intake.queued())
    c = RawSmtp(intake.ports.trusted, greet=False)
    try:
        c.send(
            b"EHLO client.test\r\nMAIL FROM:<app@shop.example>\r\nRCPT TO:<v@dest.example>\r\n"
            b"DATA\r\n" + message().encode() + b".\r\n"
        )
        assert c.reply().startswith("554 5.5.1")
        assert c.closed()
    finally:
        c.close()
    assert len(intake.queued()) == before


def test_commands_pipelined_behind_starttls_are_discarded(intake: IntakeAgent) -> None:
    password = intake.user("pipeliner")
    before = len(intake.queued())
    with raw(intake.ports.submission) as c:
        assert c.cmd("EHLO client.test").startswith("250")
        # The injected commands ride in the same packet as STARTTLS, in clear text.
        c.send(b"STARTTLS\r\nMAIL FROM:<app@shop.example>\r\nRCPT TO:<v@dest.example>\r\n")
        assert c.reply().startswith("220")
        c.starttls(intake.client_context())
        ehlo = c.cmd("EHLO client.test")
        assert ehlo.startswith("250") and "AUTH" in ehlo  # the first reply is EHLO's own
        auth = f"\0pipeliner\0{password}".encode()
        assert c.cmd(f"AUTH PLAIN {base64.b64encode(auth).decode()}").startswith("235")
        assert c.cmd("RCPT TO:<v@dest.example>").startswith("503")  # no MAIL was kept
    assert len(intake.queued()) == before


def test_auth_before_tls_is_refused_and_never_checked(intake: IntakeAgent) -> None:
    with raw(intake.ports.submission) as c:
        assert c.cmd("EHLO client.test").startswith("250")
        assert c.cmd("AUTH LOGIN").startswith("538 5.7.11")
        assert c.cmd("AUTH PLAIN AHgAeA==").startswith("538 5.7.11")
    with raw(intake.ports.trusted) as c:  # no TLS at all on this listener: no AUTH either
        assert "AUTH" not in c.cmd("EHLO client.test")
        assert c.cmd("AUTH PLAIN AHgAeA==").startswith("538 5.7.11")
