"""Reading mail that comes back: RFC 3464 delivery status notifications, RFC 5965 ARF
complaint reports, the non-standard bounces of older MTAs (through flufl.bounce), and
auto-replies, which are none of these.

Pure: bytes in, findings out.
"""

from __future__ import annotations

import email
import logging
import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr
from enum import Enum

from flufl.bounce import all_failures

from mailfleet.agent.feedback.classify import (
    LOCAL_PROGRAM,
    Verdict,
    classify,
    is_generic,
    status_code,
)


class Kind(Enum):
    """What a finding says about its recipient."""

    BOUNCE = "bounce"  # delivery failed for good
    DELAY = "delay"  # still being tried: nothing to record
    COMPLAINT = "complaint"  # the recipient reported the message as spam (ARF)
    AUTO_REPLY = "auto_reply"  # a vacation or out-of-office answer: not a bounce
    NONE = "none"  # a delivered/relayed notice, or nothing recognisable


@dataclass(frozen=True)
class Finding:
    """One recipient's part of a report."""

    kind: Kind
    recipient: str = ""
    status: str = ""
    diagnostic: str = ""
    verdict: Verdict | None = None
    feedback_type: str = ""  # ARF: abuse, fraud, virus, other, not-spam, auth-failure, …

    @property
    def hard(self) -> bool:
        """A bounce that says the address cannot receive mail (a delay never is one)."""
        return self.kind is Kind.BOUNCE and self.verdict is not None and self.verdict.hard


@dataclass
class Report:
    """Everything read from one inbound message."""

    findings: list[Finding] = field(default_factory=list)
    # Header fields of the message that was returned or reported, when it came along: they
    # carry our VERP return path and CFBL-Feedback-ID, so a redacted report still matches.
    original: Message | None = None

    @property
    def kind(self) -> Kind:
        """The report's kind: a complaint or bounce if any finding is one."""
        kinds = {f.kind for f in self.findings}
        for kind in (Kind.COMPLAINT, Kind.BOUNCE, Kind.DELAY, Kind.AUTO_REPLY):
            if kind in kinds:
                return kind
        return Kind.NONE


log = logging.getLogger("mailfleet.agent.feedback")

_WS = re.compile(r"\s+")
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response)|out of (the )?office|vacation|abwesenheit|"
    r"absence|autosvar|r[ée]ponse automatique)",
    re.IGNORECASE,
)


def _unfold(value: object) -> str:
    return _WS.sub(" ", str(value or "")).strip()


def _typed_address(value: object) -> str:
    """The address of ``rfc822; <a@b>`` (a DSN recipient field), or ""."""
    text = _unfold(value)
    _, _, rest = text.rpartition(";")
    rest = rest.strip().strip("<>")
    if rest.startswith("@") and ":" in rest:  # a source route: <@relay:user@domain>
        rest = rest.rpartition(":")[2]
    address = parseaddr(rest)[1] or rest
    return address if _ADDRESS.fullmatch(address) else ""


def _diagnostic(value: object) -> str:
    """``smtp; 550 5.1.1 …`` without its type."""
    text = _unfold(value)
    kind, sep, rest = text.partition(";")
    return rest.strip() if sep and " " not in kind.strip() else text


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        charset = part.get_content_charset() or "utf-8"
        try:
            return payload.decode(charset, "replace")
        except LookupError:
            return payload.decode("utf-8", "replace")
    return ""


def _blocks(part: Message) -> list[Message]:
    """The field blocks of a message/delivery-status (or feedback-report) part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    if isinstance(payload, str):  # not split by the parser (e.g. an encoded part)
        text = _text(part) or payload
        return [HeaderParser().parsestr(b.strip() + "\n") for b in re.split(r"\n\s*\n", text)]
    return []


def _original(part: Message) -> Message | None:
    if part.get_content_type() == "text/rfc822-headers":
        return HeaderParser().parsestr(_text(part) or str(part.get_payload()))
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    return None


def _recipient(block: Message) -> str:
    return _typed_address(block.get("Final-Recipient")) or _typed_address(
        block.get("Original-Recipient")
    )


def _dsn(blocks: list[Message], body: str) -> list[Finding]:
    findings = []
    everyone = tuple(r for r in map(_recipient, blocks) if r)
    for block in blocks:
        recipient = _recipient(block)
        if not recipient:
            continue
        action = _unfold(block.get("Action")).lower()
        diagnostic = _diagnostic(block.get("Diagnostic-Code"))
        # The remote server's own code, when its reply has one, over the reporting MTA's.
        status = status_code(diagnostic) or status_code(_unfold(block.get("Status")))
        if not action:
            action = "failed" if status.startswith("5") else "delayed"
        if not diagnostic and is_generic(status):
            # No reply text, a status that says little: the human-readable part may say more.
            diagnostic = _context(body, recipient, others=everyone)[:500]
        if action.startswith("failed"):
            if _unfold(block.get("Diagnostic-Code")).lower().startswith("x-unix"):
                # A local delivery program (procmail, a pipe) failed, not the mailbox.
                verdict = LOCAL_PROGRAM
            else:
                around = _around(body, diagnostic) or _context(body, recipient, others=everyone)
                verdict = _read(status, diagnostic, around)
            findings.append(Finding(Kind.BOUNCE, recipient, status, diagnostic, verdict))
        elif action.startswith("delayed"):
            findings.append(Finding(Kind.DELAY, recipient, status, diagnostic))
        else:
            findings.append(Finding(Kind.NONE, recipient, status, diagnostic))
    return findings


def _arf(part: Message, original: Message | None) -> list[Finding]:
    fields = Message()
    for block in _blocks(part):
        for name, value in block.items():
            fields[name] = value
    feedback_type = _unfold(fields.get("Feedback-Type")).lower() or "abuse"
    recipients = [_unfold(v).strip("<>") for v in fields.get_all("Original-Rcpt-To") or []]
    recipients += [
        _typed_address(v) or _unfold(v).strip("<>")
        for v in fields.get_all("Removal-Recipient") or []
    ]
    if not any("@" in r for r in recipients) and original is not None:
        recipients = [a for _, a in getaddresses(original.get_all("To") or [])]
    found = [r for r in dict.fromkeys(recipients) if "@" in r] or [""]
    return [Finding(Kind.COMPLAINT, r, feedback_type=feedback_type) for r in found]


def _is_auto_reply(msg: Message) -> bool:
    auto = _unfold(msg.get("Auto-Submitted")).lower()
    if auto and auto != "no":
        return True
    if msg.get("X-Autoreply") or msg.get("X-Autorespond") or msg.get("X-Autoresponder"):
        return True
    if _unfold(msg.get("Precedence")).lower() == "auto_reply":
        return True
    return bool(_AUTO_SUBJECT.match(_unfold(msg.get("Subject"))))


_BOUNCE_SENDER = re.compile(r"mailer-daemon|postmaster|mail delivery", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status|fail|notification|report)|returned mail|failure notice|"
    r"not (been )?delivered|mail (system )?error|delivery has failed|could not be delivered|"
    r"rejected",
    re.IGNORECASE,
)


# What a bounce's text says when its sender and subject do not (a no-reply sender, "Mail").
_BOUNCE_TEXT = re.compile(
    r"(could not|cannot|can't|was not|wasn't|has not) (been )?(be )?delivered to|"
    r"delivery to the following recipients? failed|address(\(es\)|es)? failed",
    re.IGNORECASE,
)


_AFTER_DATA = re.compile(
    r">>> DATA|end of DATA|SMTP command:? DATA|after DATA|DATA command", re.IGNORECASE
)


_AFTER_MAIL = re.compile(
    r"after MAIL FROM|in reply to MAIL FROM command|>>> MAIL FROM:[^<>]*<[^<>]*>[^<>]*<<< [45]",
    re.IGNORECASE,
)


def _after_data(text: str) -> bool:
    """The transcript around a refusal shows it came at DATA, after RCPT was accepted."""
    return bool(_AFTER_DATA.search(text))


def _after_mail(text: str) -> bool:
    """The transcript around a refusal shows it answered MAIL FROM: the sender's refusal."""
    return bool(_AFTER_MAIL.search(text))


def _read(status: str, diagnostic: str, transcript: str) -> Verdict:
    """Classify a refusal, knowing from the transcript at which SMTP stage it came."""
    return classify(
        status,
        diagnostic,
        after_data=_after_data(transcript),
        after_mail=_after_mail(transcript),
    )


def _around(body: str, diagnostic: str) -> str:
    """The body text around each place it repeats the diagnostic (a session transcript)."""
    flat = _unfold(body)
    probe = diagnostic[:40]
    if len(probe) < 10:
        return ""
    found = []
    at = flat.find(probe)
    while at >= 0:
        found.append(flat[max(at - 30, 0) : at + len(diagnostic) + 60])
        at = flat.find(probe, at + 1)
    return " … ".join(found)


def _looks_like_bounce(msg: Message) -> bool:
    return bool(
        _BOUNCE_SENDER.search(_unfold(msg.get("From")))
        or _BOUNCE_SUBJECT.search(_unfold(msg.get("Subject")))
    )


def _body_text(msg: Message) -> str:
    texts = [msg.preamble or ""]
    for part in msg.walk():
        if (
            part.get_content_maintype() == "text"
            and part.get_content_type() != "text/rfc822-headers"
        ):
            texts.append(_text(part))
        if part.get_content_type() == "message/rfc822":
            break  # the returned message says nothing about why it bounced
    if not any(t.strip() for t in texts) and isinstance(msg.get_payload(), str):
        texts.append(str(msg.get_payload()))  # a multipart whose boundary never comes
    return "\n".join(texts)


def _mentions(address: str) -> re.Pattern[str]:
    """Where a line names ``address`` itself, not a longer address that contains it."""
    return re.compile(
        r"(?<![\w.!#$%&'*+/=?^`{|}~-])" + re.escape(address) + r"(?![\w-]|\.[\w-])",
        re.IGNORECASE,
    )


def _context(
    body: str, address: str, *, before: bool = False, others: tuple[str, ...] = ()
) -> str:
    """The lines after a mention of ``address``, where MTAs put the reason (or, with
    ``before``, the lines before it, where some put it instead).

    A report about several recipients gives each its own lines: a window stops at a line
    that names one of the ``others`` and not this one. Of the recipient's mentions (its
    line in the list of failures, its RCPT in the transcript, …) the first whose window
    holds a status code is the one read.
    """
    lines = [line for line in body.splitlines() if line.strip()]
    own = _mentions(address)
    other = [_mentions(a) for a in others if a.lower() != address.lower()]
    # Each line belongs to the recipient last named at or above it (None before any).
    owners: list[bool | None] = []
    owner: bool | None = None
    for line in lines:
        if own.search(line):
            owner = True
        elif any(p.search(line) for p in other):
            owner = False
        owners.append(owner)

    windows = []
    for i, line in enumerate(lines):
        if not own.search(line):
            continue
        if before:
            start = max(i - 4, 0)
            while start < i and owners[start] is False:
                start += 1
            return _unfold(" ".join(lines[start : i + 1]))
        start = i - 1 if i > 0 and owners[i - 1] is not False else i
        end = i + 1
        while end < min(i + 8, len(lines)) and owners[end] is not False:
            end += 1
        windows.append(_unfold(" ".join(lines[start:end])))
    if not windows:
        return "" if before else _unfold(body[:2000])
    return next((w for w in windows if status_code(w)), windows[0])


_NOT_RECIPIENT_LINE = re.compile(
    r"^\s*(message-id|in-reply-to|references|received|from|return-path|sender|reply-to|"
    r"x-[\w-]+|dkim-signature|arc-[\w-]+|list-[\w-]+|reporting-mta|x-postfix-sender)\s*:",
    re.IGNORECASE,
)


def _named_recipients(msg: Message, body: str, original: Message | None) -> list[str]:
    """For a bounce no detector knows: the addresses its text names (less the bouncer's
    own and the original sender), else the returned message's To."""
    own = getaddresses(msg.get_all("From", []) + msg.get_all("To", []))
    if original is not None:
        own += getaddresses(original.get_all("From", []) + original.get_all("Sender", []))
    skip = {a.lower() for _, a in own}
    lines = [line for line in body.splitlines() if not _NOT_RECIPIENT_LINE.match(line)]
    named = [a for a in addresses_in("\n".join(lines)) if a.lower() not in skip]
    if named:
        return named
    if original is not None:
        return [a for _, a in getaddresses(original.get_all("To", [])) if "@" in a]
    return []


def _dsn_in_text(raw: bytes) -> list[Message]:
    """Delivery-status field blocks found in the raw text, for reports whose MIME structure
    is broken (a wrong boundary, no Content-Type at all)."""
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n")
    blocks = []
    for block in re.split(r"\n\s*\n", text):
        if re.search(r"^(Final|Original)-Recipient:", block, re.IGNORECASE | re.MULTILINE):
            blocks.append(HeaderParser().parsestr(block.strip() + "\n"))
    return blocks


def _failures(msg: Message) -> tuple[frozenset[bytes], frozenset[bytes]]:
    """flufl.bounce's (temporary, permanent) recipients; nothing when a detector trips over a
    malformed message (some index into headers that are not there)."""
    try:
        return all_failures(msg)
    except Exception:
        log.debug("flufl.bounce could not read a message", exc_info=True)
        return frozenset(), frozenset()


_LIST_HEADING = re.compile(
    r"following (address(\(es\)|es)?|recipients?(\(s\))?)\b.*(fail|error|could not|"
    r"not be|undeliver)",
    re.IGNORECASE,
)
_LIST_END = re.compile(r"^\s*-{3,}|copy of|original message|transcript", re.IGNORECASE)
_LISTED = re.compile(r"^\s*(?:>>>\s*)?<?(" + _ADDRESS.pattern + r")>?(?:[\s:,]|$)")


def _failure_list(body: str) -> list[str]:
    """The addresses a plain-text bounce lists under its heading ("The following address(es)
    failed:" in Exim, "----- The following addresses had permanent fatal errors -----" in
    Sendmail, "The following recipient(s) could not be reached:" in Exchange), one a line."""
    lines = [line for line in body.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if not _LIST_HEADING.search(line):
            continue
        listed = []
        for following in lines[i + 1 : i + 40]:
            if _LIST_END.search(following):
                break
            match = _LISTED.match(following)
            if match is not None:
                listed.append(match.group(1))
        if listed:
            return list(dict.fromkeys(listed))
    return []


def _non_standard(msg: Message, original: Message | None) -> list[Finding]:
    temporary, permanent = _failures(msg)
    body = _body_text(msg)
    listed = _failure_list(body)
    if listed and not {a.decode("utf-8", "replace").lower() for a in permanent} & {
        a.lower() for a in listed
    }:
        # The bounce's own list of failed addresses over a detector that read another one
        # (a Received header's "for <…>", the returned message's To).
        permanent = frozenset(a.encode() for a in listed)
    findings = []
    found: list[tuple[str, Kind]] = []
    for addresses, kind in (
        (sorted(permanent), Kind.BOUNCE),
        (sorted(temporary - permanent), Kind.DELAY),
    ):
        for raw in addresses:
            match = _ADDRESS.search(raw.decode("utf-8", "replace"))
            if match is not None:
                found.append((match.group(0), kind))
    if not found and (_looks_like_bounce(msg) or _BOUNCE_TEXT.search(body)):
        found = [(a, Kind.BOUNCE) for a in _named_recipients(msg, body, original)]
    everyone = tuple(r for r, _ in found)
    for recipient, kind in found:
        context = _context(body, recipient, others=everyone)
        status = status_code(context)
        verdict = None
        if kind is Kind.BOUNCE:
            verdict = _read(status, context, context)
            if verdict.reason == "undetermined":
                earlier = _context(body, recipient, before=True, others=everyone)
                status = status or status_code(earlier)
                verdict = _read(status, earlier, earlier)
                context = f"{earlier} {context}"
        findings.append(Finding(kind, recipient, status, context[:500], verdict))
    return findings


def parse(raw: bytes) -> Report:
    """Read one inbound message."""
    msg = email.message_from_bytes(raw)
    report = Report()
    dsn_parts: list[Message] = []
    arf_parts: list[Message] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            dsn_parts.append(part)
        elif ctype == "message/feedback-report":
            arf_parts.append(part)
        elif report.original is None and ctype in (
            "message/rfc822",
            "text/rfc822-headers",
            "message/rfc822-headers",
        ):
            report.original = _original(part)
    if arf_parts:
        for part in arf_parts:
            report.findings += _arf(part, report.original)
        return report
    if report.original is not None and report.original.get("X-HmXmrOriginalRecipient"):
        # Microsoft's JMRP complaint: the reported message, its recipient in this field.
        recipient = _unfold(report.original.get("X-HmXmrOriginalRecipient"))
        report.findings = [Finding(Kind.COMPLAINT, recipient, feedback_type="abuse")]
        return report
    body = _body_text(msg)
    for part in dsn_parts:
        report.findings += _dsn(_blocks(part), body)
    if not report.findings:
        report.findings = _dsn(_dsn_in_text(raw), body)
    if not report.findings and _is_auto_reply(msg) and not _looks_like_bounce(msg):
        # The recipient who is away is the one who answers.
        sender = parseaddr(_unfold(msg.get("From")))[1]
        report.findings = [Finding(Kind.AUTO_REPLY, sender)]
    if not report.findings:
        report.findings = _non_standard(msg, report.original)
    return report


def addresses_in(text: str) -> list[str]:
    """Every address-like string in ``text``, in order, without repeats."""
    return list(dict.fromkeys(_ADDRESS.findall(text)))
