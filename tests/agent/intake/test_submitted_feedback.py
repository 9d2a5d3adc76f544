"""Submitted mail is in the feedback loop like campaign mail: it goes out from its VERP return
path with CFBL fields, its HTML is tracked through the agent's HTTP server unless
X-Mailfleet-Track says otherwise, and a DSN to its return path suppresses the recipient."""

from __future__ import annotations

import email
import email.policy
import http.client
import re
import smtplib
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

from mailfleet.v1 import events_pb2, messages_pb2, suppression_pb2
from tests.agent.intake.peer import BOUNCE, DOMAIN, IntakeAgent, delivered, wait_for
from tests.peers.dkimverify import mail_dkim
from tests.peers.dns import LocalDns
from tests.peers.smtp import Received, SmtpSink

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "bounces"
TEXT = "Your order ships today: https://shop.example/orders/7?a=1&b=2\n"
HTML = (
    '<html><body><p>Your order <a href="https://shop.example/orders/7?a=1&amp;b=2">ships'
    " today</a> \u2013 caf\u00e9.</p></body></html>\n"
)


def _mime(to: str, track: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Shop <app@{DOMAIN}>"
    msg["To"] = to
    msg["Reply-To"] = f"help@{DOMAIN}"
    msg["Subject"] = "Your order"
    if track is not None:
        msg["X-Mailfleet-Track"] = track
    msg.set_content(TEXT)
    msg.add_alternative(HTML, subtype="html")
    return msg.as_bytes(policy=email.policy.SMTP)


def _submit(intake: IntakeAgent, data: bytes, to: str, user: str) -> int:
    password = intake.user(user)
    with smtplib.SMTP("127.0.0.1", intake.ports.submission, timeout=20) as smtp:
        smtp.starttls(context=intake.client_context())
        smtp.login(user, password)
        smtp.mail(f"app@{DOMAIN}")
        smtp.rcpt(to)
        code, reply = smtp.data(data)
    assert code == 250, reply
    return int(reply.decode().rpartition("queued as ")[2])


def _parts(got: Received) -> tuple[email.message.EmailMessage, str, str]:
    msg = email.message_from_bytes(got.data, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    html = msg.get_body(("html",))
    text = msg.get_body(("plain",))
    assert html is not None and text is not None
    return msg, html.get_content(), text.get_content()


def _plain_part(data: bytes) -> bytes:
    """The bytes of the first part of a multipart message, between its boundary lines."""
    boundary = email.message_from_bytes(data).get_boundary()
    assert boundary is not None
    return data.split(b"--" + boundary.encode())[1]


def _get(url: str) -> http.client.HTTPResponse:
    parts = urlsplit(url)
    assert parts.hostname is not None
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", f"{parts.path}?{parts.query}" if parts.query else parts.path)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def _events(intake: IntakeAgent, message_id: int, kind: int) -> list[events_pb2.Event]:
    listed = intake.stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=10_000)).events
    return [e for e in listed if e.message_id == message_id and e.type == kind]


def test_submitted_mail_goes_out_from_its_verp_path_with_cfbl_and_tracked_html(
    intake: IntakeAgent, sink: SmtpSink, local_dns: LocalDns, tmp_path: Path
) -> None:
    local_dns.add_txt(intake.dkim.name, intake.dkim.value)
    submitted = _mime("t1@dest.example")
    mid = _submit(intake, submitted, "t1@dest.example", "tracked-app")
    (got,) = delivered(sink, {"t1@dest.example"})
    assert re.fullmatch(rf"b-[0-9a-f]+@{re.escape(BOUNCE)}", got.mail_from)
    msg, html, text = _parts(got)
    assert msg["From"] == f"Shop <app@{DOMAIN}>" and msg["Reply-To"] == f"help@{DOMAIN}"
    assert msg["CFBL-Address"] == f"fbl@{BOUNCE}; report=arf"
    assert re.fullmatch(r"[0-9a-f]+", str(msg["CFBL-Feedback-ID"]))
    assert "X-Mailfleet-Track" not in msg
    assert mail_dkim(got.data, local_dns, tmp_path) == {"rsa-sha256": "pass"}
    assert text.replace("\r\n", "\n") == TEXT
    assert _plain_part(got.data) == _plain_part(submitted)  # byte for byte

    base = intake.process.http_url
    (link,) = re.findall(r'href="([^"]+)"', html)
    assert link.startswith(f"{base}/c/")
    (pixel,) = re.findall(r'<img src="([^"]+)"', html)
    assert pixel.startswith(f"{base}/o/")
    assert "caf\u00e9" in html and html.index(pixel) < html.index("</body>")

    clicked = _get(link.replace("&amp;", "&"))
    assert clicked.status == 302
    assert clicked.getheader("Location") == "https://shop.example/orders/7?a=1&b=2"
    assert _get(pixel).status == 200
    [click] = _events(intake, mid, events_pb2.EVENT_TYPE_MESSAGE_CLICKED)
    assert (click.email, click.attrs["url"]) == (
        "t1@dest.example",
        "https://shop.example/orders/7?a=1&b=2",
    )
    assert _events(intake, mid, events_pb2.EVENT_TYPE_MESSAGE_OPENED)
    tampered = link.replace("&amp;", "&").replace("orders%2F7", "orders%2F8")
    assert _get(tampered).status == 404


def test_the_track_header_switches_tracking(intake: IntakeAgent, sink: SmtpSink) -> None:
    submitted = _mime("n1@dest.example", track="none")
    _submit(intake, submitted, "n1@dest.example", "untracked-app")
    _submit(intake, _mime("o1@dest.example", track=" Opens "), "o1@dest.example", "opens-app")
    (untracked,) = delivered(sink, {"n1@dest.example"})
    msg, html, _ = _parts(untracked)
    assert html.replace("\r\n", "\n") == HTML  # nothing rewritten, no pixel
    # The body is the client's, byte for byte.
    assert untracked.data.split(b"\r\n\r\n", 1)[1] == submitted.split(b"\r\n\r\n", 1)[1]
    assert "X-Mailfleet-Track" not in msg and msg["CFBL-Feedback-ID"]
    assert re.fullmatch(rf"b-[0-9a-f]+@{re.escape(BOUNCE)}", untracked.mail_from)
    (opens_only,) = delivered(sink, {"o1@dest.example"})
    _, html, _ = _parts(opens_only)
    assert 'href="https://shop.example/orders/7?a=1&amp;b=2"' in html
    assert f'<img src="{intake.process.http_url}/o/' in html

    password = intake.user("bad-track-app")
    with smtplib.SMTP("127.0.0.1", intake.ports.submission, timeout=20) as smtp:
        smtp.starttls(context=intake.client_context())
        smtp.login("bad-track-app", password)
        smtp.mail(f"app@{DOMAIN}")
        smtp.rcpt("x1@dest.example")
        code, reply = smtp.data(_mime("x1@dest.example", track="everything"))
    assert code == 554 and b"X-Mailfleet-Track" in reply


def test_a_dsn_to_a_submitted_message_suppresses_its_recipient(
    intake: IntakeAgent, sink: SmtpSink
) -> None:
    mid = _submit(intake, _mime("gone@dest.example"), "gone@dest.example", "dsn-app")
    (got,) = delivered(sink, {"gone@dest.example"})
    dsn = (SAMPLES / "postfix-user-unknown.eml").read_bytes()
    dsn = dsn.replace(b"ann@example.com", b"gone@dest.example")
    dsn = dsn.replace(b"b-TOKEN@bounce.shop.example", got.mail_from.encode())
    with smtplib.SMTP("127.0.0.1", intake.ports.inbound, timeout=20) as smtp:
        smtp.sendmail("", [got.mail_from], dsn.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))

    def suppressed() -> bool:
        checked = intake.stubs.suppression.CheckSuppressions(
            suppression_pb2.CheckSuppressionsRequest(emails=["gone@dest.example"])
        )
        return checked.statuses[0].suppressed

    wait_for(suppressed)
    state = intake.stubs.messages.GetMessage(messages_pb2.GetMessageRequest(message_id=mid)).state
    assert state == messages_pb2.MESSAGE_STATE_BOUNCED
    [bounce] = _events(intake, mid, events_pb2.EVENT_TYPE_MESSAGE_BOUNCED)
    assert (bounce.attrs["source"], bounce.attrs["bounce"]) == ("dsn", "hard")

    # The next submission to that address is suppressed, never sent.
    again = _submit(intake, _mime("gone@dest.example"), "gone@dest.example", "dsn-app-2")
    [stopped] = _events(intake, again, events_pb2.EVENT_TYPE_MESSAGE_SUPPRESSED)
    assert (stopped.attrs["stage"], stopped.attrs["reason"]) == ("enqueue", "hard_bounce")
    assert len([m for m in sink.received if "gone@dest.example" in m.rcpt_to]) == 1
