"""The feedback loop on a client's own MIME: header fields spliced in, HTML parts tracked in
their own charset and transfer encoding, everything else left as it came."""

from __future__ import annotations

import base64
import email
import email.policy
from email.message import EmailMessage

from mailfleet.agent.feedback.raw_mime import add_fields, track_html


def _tracker(body: str) -> str:
    return body.replace("https://shop.example/", "https://agent.example/c/t?u=") + "<img>"


def _crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


def test_fields_go_on_top_and_replace_the_clients_own() -> None:
    data = _crlf(
        "Received: from x\n\tby y\nCFBL-Feedback-ID: theirs\n  folded on\nFrom: a@shop.example\n"
        "cfbl-address: them@else.example\nSubject: s\n\nbody\nCFBL-Feedback-ID: in the body\n"
    )
    out = add_fields(
        data, [("CFBL-Address", "fbl@b.example; report=arf"), ("CFBL-Feedback-ID", "f1")]
    )
    assert out == _crlf(
        "CFBL-Address: fbl@b.example; report=arf\nCFBL-Feedback-ID: f1\nReceived: from x\n"
        "\tby y\nFrom: a@shop.example\nSubject: s\n\nbody\nCFBL-Feedback-ID: in the body\n"
    )
    assert add_fields(data, []) == data
    assert add_fields(b"Subject: no body", [("A", "1")]) == b"A: 1\r\nSubject: no body\r\n"


def test_a_message_without_html_comes_back_byte_for_byte() -> None:
    data = _crlf("From: a@shop.example\nX-Odd:no space\n\nhttps://shop.example/x\n")
    assert track_html(data, _tracker) is data


def test_html_parts_are_tracked_in_their_encoding_and_the_rest_is_kept() -> None:
    msg = EmailMessage()
    msg["From"] = "a@shop.example"
    msg.set_content("see https://shop.example/a\n")
    msg.add_alternative(
        '<a href="https://shop.example/a">caf\u00e9</a>\n', subtype="html", cte="base64"
    )
    data = msg.as_bytes(policy=email.policy.SMTP)
    out = track_html(data, _tracker)
    parsed = email.message_from_bytes(out, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    html = parsed.get_body(("html",))
    assert html is not None and html["Content-Transfer-Encoding"] == "base64"
    assert html.get_content() == '<a href="https://agent.example/c/t?u=a">caf\u00e9</a>\r\n<img>'
    text_part = data.split(msg.get_boundary().encode())[1]  # type: ignore[union-attr]
    assert text_part in out


def test_a_line_made_too_long_for_8bit_is_re_encoded_quoted_printable() -> None:
    long_line = '<a href="https://shop.example/x">x</a>' * 25  # 950 bytes, under 998
    data = _crlf(
        "From: a@shop.example\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n"
        f"Content-Transfer-Encoding: 8bit\n\n{long_line}\n"
    )
    out = track_html(data, _tracker)
    assert b"Content-Transfer-Encoding: quoted-printable\r\n" in out
    assert max(len(line) for line in out.split(b"\r\n")) <= 76
    parsed = email.message_from_bytes(out, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed.get_content().count("https://agent.example/c/t?u=x") == 25


def test_attachments_attached_messages_and_unknown_charsets_are_not_touched() -> None:
    html = '<a href="https://shop.example/a">a</a>'
    data = _crlf(
        'From: a@shop.example\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n'
        "--b\nContent-Type: text/html; charset=x-unknown-charset\n\n"
        f"{html}\n--b\nContent-Type: text/html\n"
        "Content-Disposition: attachment; filename=a.html\n\n"
        f"{html}\n--b\nContent-Type: message/rfc822\n\nFrom: b@else.example\n"
        f"Content-Type: text/html\n\n{html}\n--b--\n"
    )
    assert track_html(data, _tracker) is data


def test_base64_html_with_crlf_text_keeps_crlf_inside() -> None:
    body = base64.encodebytes(b"<p>https://shop.example/a</p>\r\n<p>b</p>\r\n").decode()
    data = _crlf(
        "From: a@shop.example\nContent-Type: text/html; charset=us-ascii\n"
        f"Content-Transfer-Encoding: base64\n\n{body}"
    )
    out = track_html(data, _tracker)
    decoded = base64.b64decode(out.split(b"\r\n\r\n", 1)[1])
    assert decoded == b"<p>https://agent.example/c/t?u=a</p>\r\n<p>b</p>\r\n<img>"
