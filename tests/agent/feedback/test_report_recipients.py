"""Reports about several recipients: each recipient is read with its own status and reason,
in the layouts real MTAs write (OpenSMTPD, Sendmail, Exim, qmail, RFC 3464 without a
Diagnostic-Code), not with the first status the report mentions."""

from __future__ import annotations

import pytest

from mailfleet.agent.feedback.reports import Kind, parse

_HEAD = (
    "From: Mail Delivery System <MAILER-DAEMON@mx.sender.example>\n"
    "To: news@sender.example\n"
    "Subject: {subject}\n"
    "Message-Id: <bounce-1@mx.sender.example>\n"
    "\n"
)
_RETURNED = (
    "Received: from app.sender.example by mx.sender.example;\n"
    "From: news@sender.example\n"
    "To: full@dest.example, gone@dest.example\n"
    "Subject: Our news\n"
    "\n"
    "Hello\n"
)

OPENSMTPD = _HEAD.format(subject="Delivery status notification: error") + (
    "    Hi!\n\n"
    "    This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.\n\n"
    "    An error has occurred while attempting to deliver a message for\n"
    "    the following list of recipients:\n\n"
    "full@dest.example: 552 5.2.2 <full@dest.example>... Mailbox Full\n"
    "gone@dest.example: 550 5.1.1 <gone@dest.example>... User Unknown\n\n"
    "    Below is a copy of the original message:\n\n" + _RETURNED
)

SENDMAIL = _HEAD.format(subject="Returned mail: see transcript for details") + (
    "The original message was received at Mon, 7 Dec 2026 10:00:00 GMT\n"
    "from app.sender.example [192.0.2.10]\n\n"
    "   ----- The following addresses had permanent fatal errors -----\n"
    "<full@dest.example>\n"
    "    (reason: 552 5.2.2 Mailbox full)\n"
    "<gone@dest.example>\n"
    "    (reason: 550 5.1.1 User unknown)\n\n"
    "   ----- Transcript of session follows -----\n"
    "... while talking to mx.dest.example.:\n"
    ">>> RCPT To:<full@dest.example>\n"
    "<<< 552 5.2.2 Mailbox full\n"
    ">>> RCPT To:<gone@dest.example>\n"
    "<<< 550 5.1.1 <gone@dest.example>... User unknown\n\n"
    "   ----- Original message follows -----\n" + _RETURNED
)

EXIM = _HEAD.format(subject="Mail delivery failed: returning message to sender") + (
    "This message was created automatically by mail delivery software.\n\n"
    "A message that you sent could not be delivered to one or more of its\n"
    "recipients. This is a permanent error. The following address(es) failed:\n\n"
    "  full@dest.example\n"
    "    host mx.dest.example [192.0.2.25]\n"
    "    SMTP error from remote mail server after RCPT TO:<full@dest.example>:\n"
    "    552 5.2.2 Mailbox full\n"
    "  gone@dest.example\n"
    "    host mx.dest.example [192.0.2.25]\n"
    "    SMTP error from remote mail server after RCPT TO:<gone@dest.example>:\n"
    "    550 5.1.1 No such user here\n\n"
    "------ This is a copy of the message, including all the headers. ------\n\n" + _RETURNED
)

QMAIL = _HEAD.format(subject="failure notice") + (
    "Hi. This is the qmail-send program at mx.sender.example.\n"
    "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
    "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
    "<full@dest.example>:\n"
    "192.0.2.25 does not like recipient.\n"
    "Remote host said: 552 5.2.2 <full@dest.example>... Mailbox Full\n"
    "Giving up on 192.0.2.25.\n\n"
    "<gone@dest.example>:\n"
    "192.0.2.25 does not like recipient.\n"
    "Remote host said: 550 5.1.1 <gone@dest.example>... User Unknown\n"
    "Giving up on 192.0.2.25.\n\n"
    "--- Below this line is a copy of the message.\n\n" + _RETURNED
)

# RFC 3464 blocks with generic statuses and no Diagnostic-Code: the reasons are only in the
# human-readable part, one paragraph per recipient.
DSN = (
    "From: postmaster@mx.sender.example\n"
    "To: news@sender.example\n"
    "Subject: Undeliverable: Our news\n"
    "MIME-Version: 1.0\n"
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
    "--b\n"
    "Content-Type: text/plain\n\n"
    "Delivery has failed to these recipients or groups:\n\n"
    "full@dest.example\n"
    "The recipient's mailbox is full and can't accept messages now.\n\n"
    "gone@dest.example\n"
    "The e-mail address you entered couldn't be found.\n\n"
    "--b\n"
    "Content-Type: message/delivery-status\n\n"
    "Reporting-MTA: dns; mx.sender.example\n\n"
    "Final-Recipient: rfc822; full@dest.example\n"
    "Action: failed\n"
    "Status: 5.0.0\n\n"
    "Final-Recipient: rfc822; gone@dest.example\n"
    "Action: failed\n"
    "Status: 5.0.0\n\n"
    "--b--\n"
)


@pytest.mark.parametrize(
    "raw",
    [OPENSMTPD, SENDMAIL, EXIM, QMAIL, DSN],
    ids=["opensmtpd", "sendmail", "exim", "qmail", "rfc3464"],
)
def test_each_recipient_of_a_report_gets_its_own_reason(raw: str) -> None:
    findings = {f.recipient: f for f in parse(raw.encode()).findings}
    assert set(findings) == {"full@dest.example", "gone@dest.example"}
    full, gone = findings["full@dest.example"], findings["gone@dest.example"]
    assert full.kind is gone.kind is Kind.BOUNCE
    assert full.verdict is not None and full.verdict.reason == "mailbox_full"
    assert not full.hard
    assert gone.verdict is not None and gone.verdict.reason == "user_unknown"
    assert gone.hard


def test_the_listed_address_wins_over_one_in_a_received_header() -> None:
    raw = (
        _HEAD.format(subject="Mail delivery failed: returning message to sender")
        + "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        "  gone@dest.example\n"
        "    SMTP error from remote mail server after RCPT TO:<gone@dest.example>:\n"
        "    550 5.1.1 No such user here\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n"
        "Received: from app.sender.example by mx.sender.example\n"
        "\tfor other@sender.example; Mon, 7 Dec 2026 10:00:00 +0000\n" + _RETURNED
    )
    assert [f.recipient for f in parse(raw.encode()).findings] == ["gone@dest.example"]


def test_a_bounce_known_only_by_its_text_is_read() -> None:
    raw = (
        "From: no-reply@mail.dest.example\n"
        "To: news@sender.example\n"
        "Subject: Mail\n\n"
        "Your mail sent on: Mon, 7 Dec 2026 10:00:00 +0000\n"
        "     Could not be delivered to: <full@dest.example>\n"
        "     As their mailbox is full.\n"
    )
    [finding] = parse(raw.encode()).findings
    assert finding.recipient == "full@dest.example"
    assert finding.verdict is not None and finding.verdict.reason == "mailbox_full"


def test_a_refusal_of_the_sender_or_of_a_local_program_is_soft() -> None:
    exim_mail_from = (
        _HEAD.format(subject="Mail delivery failed: returning message to sender")
        + "recipients. This is a permanent error. The following address(es) failed:\n\n"
        "  gone@dest.example\n"
        "    host mx.dest.example [192.0.2.25]\n"
        "    SMTP error from remote mail server after MAIL FROM:<news@sender.example>:\n"
        "    553 5.1.0 sender.example does not exist\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n" + _RETURNED
    )
    [finding] = parse(exim_mail_from.encode()).findings
    assert finding.verdict is not None and finding.verdict.reason == "sender"
    assert not finding.hard
    procmail = (
        "From: MAILER-DAEMON@mx.dest.example\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        "--b\n"
        "Content-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.dest.example\n\n"
        "Final-Recipient: rfc822; gone@dest.example\n"
        "Action: failed\n"
        "Status: 5.1.1\n"
        'Diagnostic-Code: x-unix; procmail: Couldn\'t create "/var/spool/mail/gone"\n\n'
        "--b--\n"
    )
    [finding] = parse(procmail.encode()).findings
    assert finding.verdict is not None and not finding.hard
