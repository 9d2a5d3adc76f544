"""Submission with real clients (smtplib, swaks): AUTH after TLS, sender policy, no relaying,
the queue id in the 250, delivery signed through the agent's route, control headers."""

from __future__ import annotations

import json
import re
import shutil
import smtplib
import sqlite3
import ssl
import subprocess
from pathlib import Path

import pytest

from mailfleet.agent.client.localagent import free_port
from mailfleet.v1 import capture_pb2, events_pb2, messages_pb2, smtp_users_pb2
from tests.agent.intake.peer import (
    BOUNCE,
    DOMAIN,
    IntakeAgent,
    delivered,
    message,
    raw,
    wait_for,
)
from tests.peers.agent import AgentProcess
from tests.peers.dkimverify import mail_dkim
from tests.peers.dns import LocalDns
from tests.peers.smtp import SmtpSink, make_certificate


def _submit(intake: IntakeAgent, user: str, password: str, msg: str, rcpts: list[str]) -> str:
    with smtplib.SMTP("127.0.0.1", intake.ports.submission, timeout=20) as smtp:
        smtp.starttls(context=intake.client_context())
        smtp.login(user, password)
        assert smtp.mail(f"app@{DOMAIN}")[0] == 250
        for rcpt in rcpts:
            assert smtp.rcpt(rcpt)[0] == 250
        code, reply = smtp.data(msg.encode())
    assert code == 250, reply
    return reply.decode()


def _queue_id(reply: str) -> int:
    assert "queued as " in reply
    return int(reply.rpartition("queued as ")[2].split("-")[0])


def test_starttls_auth_plain_queues_in_the_transactional_lane_and_answers_with_the_queue_id(
    intake: IntakeAgent, sink: SmtpSink, local_dns: LocalDns, tmp_path: Path
) -> None:
    local_dns.add_txt(intake.dkim.name, intake.dkim.value)
    password = intake.user("shop-app")
    extra = "X-Mailfleet-Tags: receipts, eu\r\nX-Mailfleet-Campaign: November receipts\r\n"
    reply = _submit(
        intake,
        "shop-app",
        password,
        message(to="a1@dest.example", extra=extra),
        ["a1@dest.example"],
    )
    mid = _queue_id(reply)
    got = intake.stubs.messages.GetMessage(messages_pb2.GetMessageRequest(message_id=mid))
    assert got.email == "a1@dest.example"
    assert got.lane == messages_pb2.LANE_TRANSACTIONAL
    got_mail = delivered(sink, {"a1@dest.example"})
    # Out from the message's VERP return path; the client's address stays in From:.
    assert re.fullmatch(rf"b-[0-9a-f]+@{re.escape(BOUNCE)}", got_mail[0].mail_from)
    data = got_mail[0].data
    assert f"\r\nFrom: Shop <app@{DOMAIN}>\r\n".encode() in data
    assert b"x-mailfleet" not in data.lower()  # control headers never leave the agent
    assert b"Received: from " in data and b"with ESMTPSA" in data
    assert mail_dkim(data, local_dns, tmp_path) == {"rsa-sha256": "pass"}
    events = intake.stubs.events.ListEvents(events_pb2.ListEventsRequest(after_seq=0)).events
    queued = [e for e in events if e.message_id == mid and e.attrs.get("source") == "smtp"]
    assert queued and queued[0].attrs["campaign"] == "November receipts"
    assert queued[0].attrs["tags"] == "receipts,eu"
    assert queued[0].attrs["smtp_user"] == "shop-app"


def test_implicit_tls_with_auth_login(intake: IntakeAgent, sink: SmtpSink) -> None:
    password = intake.user("smtps-app")
    with smtplib.SMTP_SSL(
        "127.0.0.1", intake.ports.smtps, context=intake.client_context(), timeout=20
    ) as smtp:
        smtp.ehlo()
        assert "LOGIN" in smtp.esmtp_features["auth"]
        smtp.user, smtp.password = "smtps-app", password
        code, _ = smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=False)
        assert code == 235
        refused = smtp.sendmail(f"app@{DOMAIN}", ["b1@dest.example"], message(to="b1@dest.example"))
    assert refused == {}
    verp = delivered(sink, {"b1@dest.example"})[0].mail_from
    assert re.fullmatch(rf"b-[0-9a-f]+@{re.escape(BOUNCE)}", verp)


def test_swaks_with_several_recipients_gets_one_queue_id_range(
    intake: IntakeAgent, sink: SmtpSink
) -> None:
    password = intake.user("swaks-app")
    rcpts = ["c1@dest.example", "c2@dest.example", "c3@other.example"]
    out = subprocess.run(
        [
            "swaks", "--server", f"127.0.0.1:{intake.ports.submission}", "--tls",
            "--auth", "PLAIN", "--auth-user", "swaks-app", "--auth-password", password,
            "--from", f"app@{DOMAIN}", "--h-From", f"<app@{DOMAIN}>", "--to", ",".join(rcpts),
        ],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    line = next(x for x in out.stdout.splitlines() if "queued as" in x)
    first, last = (int(x) for x in line.rpartition("queued as ")[2].split("-"))
    assert last - first == 2
    queued = {m.id: m.email for m in intake.queued()}
    assert sorted(queued[i] for i in range(first, last + 1)) == sorted(rcpts)
    assert len(delivered(sink, set(rcpts))) == 3


def test_auth_is_offered_and_accepted_only_after_tls(intake: IntakeAgent) -> None:
    password = intake.user("tls-first")
    before = len(intake.queued())
    with raw(intake.ports.submission) as c:
        ehlo = c.cmd("EHLO client.test")
        assert "AUTH" not in ehlo and "STARTTLS" in ehlo
        assert c.cmd("AUTH PLAIN AHRscy1maXJzdAB3cm9uZw==").startswith("538 5.7.11")
        assert c.cmd("MAIL FROM:<app@shop.example>").startswith("530 5.7.0")
    with (
        smtplib.SMTP("127.0.0.1", intake.ports.submission, timeout=20) as smtp,
        pytest.raises(smtplib.SMTPNotSupportedError),
    ):
        smtp.login("tls-first", password)
    assert len(intake.queued()) == before


def test_wrong_password_and_revoked_users_are_refused(intake: IntakeAgent) -> None:
    password = intake.user("to-revoke")
    with smtplib.SMTP("127.0.0.1", intake.ports.submission, timeout=20) as smtp:
        smtp.starttls(context=intake.client_context())
        with pytest.raises(smtplib.SMTPAuthenticationError) as err:
            smtp.login("to-revoke", password + "x")
        assert err.value.smtp_code == 535
    intake.stubs.smtp_users.RevokeSmtpUser(
        smtp_users_pb2.RevokeSmtpUserRequest(username="to-revoke")
    )
    with smtplib.SMTP("127.0.0.1", intake.ports.submission, timeout=20) as smtp:
        smtp.starttls(context=intake.client_context())
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login("to-revoke", password)


def test_a_user_sends_only_in_its_tenants_domains(intake: IntakeAgent) -> None:
    password = intake.user("policy-app")
    before = len(intake.queued())
    with smtplib.SMTP("127.0.0.1", intake.ports.submission, timeout=20) as smtp:
        smtp.starttls(context=intake.client_context())
        smtp.login("policy-app", password)
        code, reply = smtp.mail("ceo@bank.example")
        assert (code, reply[:5]) == (553, b"5.7.1")
        assert smtp.mail("<>")[0] == 553
        smtp.rset()
        assert smtp.mail(f"app@{DOMAIN}")[0] == 250
        assert smtp.rcpt("d1@dest.example")[0] == 250
        code, reply = smtp.data(message(sender="ceo@bank.example").encode())
        assert (code, reply[:5]) == (553, b"5.7.1")
        two_froms = f"From: <app@{DOMAIN}>\r\n" + message()
        assert smtp.mail(f"app@{DOMAIN}")[0] == 250
        assert smtp.rcpt("d1@dest.example")[0] == 250
        assert smtp.data(two_froms.encode())[0] == 554
    assert len(intake.queued()) == before


def test_unauthenticated_mail_is_never_relayed(intake: IntakeAgent) -> None:
    before = len(intake.queued())
    with smtplib.SMTP("127.0.0.1", intake.ports.inbound, timeout=20) as smtp:
        smtp.ehlo()
        assert smtp.mail("someone@elsewhere.example")[0] == 250
        code, reply = smtp.rcpt("victim@gmail.example")
        assert (code, reply[:5]) == (550, b"5.7.1")
        assert smtp.rcpt(f"user@{DOMAIN}")[0] == 550  # not even the tenant's own domain
        assert smtp.rcpt(f"b-abc@sub.{BOUNCE}")[0] == 550
    with smtplib.SMTP("127.0.0.1", intake.ports.submission, timeout=20) as smtp:
        smtp.starttls(context=intake.client_context())
        smtp.ehlo()
        code, reply = smtp.mail(f"app@{DOMAIN}")
        assert (code, reply[:5]) == (530, b"5.7.0")
    assert len(intake.queued()) == before


def test_mail_for_the_bounce_domain_is_stored_durably_and_not_queued(intake: IntakeAgent) -> None:
    before_queue, before_inbound = len(intake.queued()), len(intake.inbound())
    dsn = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.dest.example>\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n\r\n"
        "This is the mail system.\r\n"
    )
    with smtplib.SMTP("127.0.0.1", intake.ports.inbound, timeout=20) as smtp:
        smtp.ehlo()
        assert smtp.mail("<>")[0] == 250
        assert smtp.rcpt(f"b-token1@{BOUNCE}")[0] == 250
        assert smtp.rcpt(f"B-TOKEN2@{BOUNCE.upper()}")[0] == 250
        code, reply = smtp.data(dsn.encode())
    assert code == 250 and b"queued as" in reply
    rows = intake.inbound()[before_inbound:]
    assert [(r[1], r[2]) for r in rows] == [
        ("", f"b-token1@{BOUNCE}"),
        ("", f"B-TOKEN2@{BOUNCE.upper()}"),
    ]
    assert all(r[0] == "127.0.0.1" and r[3] == dsn.encode() for r in rows)
    assert len(intake.queued()) == before_queue


def test_trusted_network_submits_without_auth_but_only_in_its_domains(
    intake: IntakeAgent,
) -> None:
    before = len(intake.queued())
    with smtplib.SMTP("127.0.0.1", intake.ports.trusted, timeout=20) as smtp:
        smtp.ehlo()
        assert smtp.mail("x@bank.example")[0] == 553
        assert smtp.mail(f"app@{DOMAIN}")[0] == 250
        assert smtp.rcpt("t1@dest.example")[0] == 250
        code, reply = smtp.data(message(to="t1@dest.example").encode())
    assert code == 250
    assert intake.queued()[-1].id == _queue_id(reply.decode())
    assert len(intake.queued()) == before + 1


def test_the_route_header_picks_the_route(intake: IntakeAgent, sink: SmtpSink) -> None:
    with smtplib.SMTP("127.0.0.1", intake.ports.trusted, timeout=20) as smtp:
        smtp.ehlo()
        extra = "X-Mailfleet-Route: capture\r\n"
        refused = smtp.sendmail(f"app@{DOMAIN}", ["cap@dest.example"], message(extra=extra))
        assert refused == {}
        assert smtp.sendmail(f"app@{DOMAIN}", ["relayed@dest.example"], message()) == {}
    delivered(sink, {"relayed@dest.example"})

    def captured() -> list[str]:
        listing = intake.stubs.capture.ListCaptured(capture_pb2.ListCapturedRequest())
        return [m.rcpt_to for m in listing.messages]

    wait_for(lambda: "cap@dest.example" in captured())
    assert "cap@dest.example" not in {r for m in sink.received for r in m.rcpt_to}
    assert "relayed@dest.example" not in captured()


def test_control_headers_are_checked(intake: IntakeAgent) -> None:
    before = len(intake.queued())
    with smtplib.SMTP("127.0.0.1", intake.ports.trusted, timeout=20) as smtp:
        smtp.ehlo()
        for extra, expected in (
            ("X-Mailfleet-Route: nowhere\r\n", 554),
            ("X-Mailfleet-Colour: blue\r\n", 554),
            ("X-Mailfleet-Tags: a\r\nX-Mailfleet-Tags: b\r\n", 554),
            ("X-Mailfleet-Route: relay\r\n", 250),
        ):
            assert smtp.mail(f"app@{DOMAIN}")[0] == 250
            assert smtp.rcpt("r1@dest.example")[0] == 250
            assert smtp.data(message(extra=extra).encode())[0] == expected, extra
    assert len(intake.queued()) == before + 1
    conn = sqlite3.connect(f"file:{intake.process.data_dir / 'agent.db'}?mode=ro", uri=True)
    spec, raw_mime = conn.execute(
        "SELECT spec, raw_mime FROM contents ORDER BY id DESC LIMIT 1"
    ).fetchone()
    conn.close()
    assert json.loads(spec)["route"] == "relay"
    assert b"X-Mailfleet" not in raw_mime


def test_a_listener_with_its_own_certificate_presents_it(tmp_path: Path) -> None:
    port = free_port()
    agent = AgentProcess(
        tmp_path / "agent",
        extra_config=(
            f'[[intake.listeners]]\nport = {port}\ntls = "implicit"\n'
            'cert_file = "tls/intake.crt"\nkey_file = "tls/intake.key"\n'
        ),
    )
    made_cert, made_key = make_certificate(tmp_path)
    shutil.copy(made_cert, tmp_path / "agent" / "tls" / "intake.crt")
    shutil.copy(made_key, tmp_path / "agent" / "tls" / "intake.key")
    agent.start()
    try:
        ctx = ssl.create_default_context(cafile=str(made_cert))  # trusts only that certificate
        with smtplib.SMTP_SSL("127.0.0.1", port, context=ctx, timeout=20) as smtp:
            assert smtp.ehlo()[0] == 250
            assert "PLAIN" in smtp.esmtp_features["auth"]
    finally:
        agent.close()
