"""What EHLO advertises is what the intake does: pipelined commands from real clients (swaks
--pipe, and a raw socket writing MAIL, RCPT and DATA in one write), an RFC 3463 code in every
reply; and a control character a client sends never comes back in a reply."""

from __future__ import annotations

import re
import subprocess

from tests.agent.intake.peer import DOMAIN, IntakeAgent, delivered, message, raw
from tests.peers.smtp import SmtpSink

_ENHANCED = re.compile(r"^[245]\d\d[ -][245]\.\d{1,3}\.\d{1,3} ")


def test_ehlo_advertises_pipelining_and_enhanced_status_codes(intake: IntakeAgent) -> None:
    with raw(intake.ports.trusted) as c:
        ehlo = c.cmd("EHLO client.test").splitlines()
    assert "250-PIPELINING" in ehlo
    assert "250-ENHANCEDSTATUSCODES" in ehlo
    assert ehlo[-1].startswith("250 ")  # still one well-formed multi-line reply


def test_a_pipelined_group_in_one_write_is_answered_in_order(
    intake: IntakeAgent, sink: SmtpSink
) -> None:
    body = message(to="piped1@dest.example").encode()
    with raw(intake.ports.trusted) as c:
        c.cmd("EHLO client.test")
        c.send(
            f"MAIL FROM:<app@{DOMAIN}>\r\nRCPT TO:<piped1@dest.example>\r\n"
            "RCPT TO:<piped2@dest.example>\r\nDATA\r\n".encode()
        )
        replies = [c.reply() for _ in range(4)]
        assert [r[:3] for r in replies] == ["250", "250", "250", "354"]
        c.send(body + b".\r\nQUIT\r\n")
        assert c.reply().startswith("250 2.0.0 Ok: queued")
        assert c.reply().startswith("221")
    assert len(delivered(sink, {"piped1@dest.example", "piped2@dest.example"})) == 2


def test_swaks_pipelining_delivers(intake: IntakeAgent, sink: SmtpSink) -> None:
    out = subprocess.run(
        [
            "swaks", "--server", f"127.0.0.1:{intake.ports.trusted}", "--pipeline",
            "--from", f"app@{DOMAIN}", "--h-From", f"<app@{DOMAIN}>",
            "--to", "swakspipe@dest.example",
        ],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [x.strip() for x in out.stdout.splitlines()]
    mail = next(i for i, x in enumerate(lines) if x.startswith("-> MAIL FROM"))
    # swaks pipelines only when EHLO advertises it: RCPT and DATA go before MAIL's reply.
    assert lines[mail + 1].startswith("-> RCPT TO"), out.stdout
    assert lines[mail + 2].startswith("-> DATA"), out.stdout
    assert "queued as" in out.stdout
    assert delivered(sink, {"swakspipe@dest.example"})


def test_every_reply_after_ehlo_carries_an_enhanced_code(intake: IntakeAgent) -> None:
    with raw(intake.ports.trusted) as c:
        c.cmd("EHLO client.test")
        replies = [
            c.cmd("NOOP"),
            c.cmd("RSET"),
            c.cmd("RCPT TO:<x@dest.example>"),  # no MAIL yet: aiosmtpd's own 503
            c.cmd("MAIL FROM:"),  # aiosmtpd's own syntax error
            c.cmd("BOGUS"),
            c.cmd("QUIT"),
        ]
    assert all(_ENHANCED.match(r) for r in replies), replies
    assert replies[2].startswith("503 5.5.1")


def test_a_nul_in_an_address_is_refused_without_being_echoed(intake: IntakeAgent) -> None:
    with raw(intake.ports.trusted) as c:
        c.cmd("EHLO client.test")
        mail = c.cmd(f"MAIL FROM:<ap\x00p@{DOMAIN}>")
        assert mail.startswith("501 5.5.4")
        assert "\x00" not in mail and "ap" not in mail
        assert c.cmd(f"MAIL FROM:<app@{DOMAIN}>").startswith("250")
        rcpt = c.cmd("RCPT TO:<a\x00b\x1b[2J@dest.example>")
        assert rcpt.startswith("501 5.5.4")
        assert not re.search(r"[\x00-\x1f]", rcpt)
        unknown = c.cmd("X\x00Y")
        assert unknown.startswith("500") and not re.search(r"[\x00-\x1f]", unknown)
