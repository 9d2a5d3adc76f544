"""Why a message did not arrive, in plain words: a receiving server's reply or the agent's own
reason turned into one short sentence a marketer understands.

The enhanced status code (RFC 3463, "5.1.1") decides when it names its cause precisely; else
the reply's wording; else the reply's class (4xx: temporary, 5xx: refused). The original text
is kept beside the sentence for a tooltip or a details view. Pure: no Qt, no database.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Explained:
    """A reason as the marketer reads it, and the words it came from."""

    sentence: str
    original: str


UNKNOWN_ADDRESS = "The address does not exist at that provider."
BAD_DOMAIN = "The address's domain does not exist or does not receive mail."
BAD_ADDRESS = "The address is not written correctly."
MOVED = "The recipient has moved and left no forwarding address."
MAILBOX_FULL = "The recipient's mailbox is full."
MAILBOX_DISABLED = "The recipient's mailbox is disabled or inactive."
TOO_LARGE = "The message is too large for the recipient's server."
SPAM = "The recipient's server blocked the message as spam or by its policy."
AUTHENTICATION = "The recipient's server refused mail that does not pass SPF, DKIM or DMARC."
THROTTLED = "The recipient's server is limiting how much mail it takes from you; try later."
SENDER = "The recipient's server refused the sender address."
RELAY = "The server refused to pass the message on (relay refused)."
SMTPUTF8 = "The address has non-ASCII characters its server does not accept (no SMTPUTF8)."
CRASHED = "Building this message stopped the sending agent's worker, so it was not sent."
TIMED_OUT = "The recipient's server did not answer in time."
UNREACHABLE = "The recipient's server could not be reached."
TLS = "A secure (TLS) connection with the recipient's server failed."
EXPIRED = "The agent kept retrying for too long and gave up."
RENDERING = "The message could not be built for this recipient (a template or field problem)."
SIGNING = "The message could not be signed (DKIM) by the agent."
SYSTEM = "The recipient's mail system had a problem; it is not about the address."
CONTENT = "The recipient's server refused the message's content."
TEMPORARY = "The recipient's server refused it for now (a temporary problem)."
REFUSED = "The recipient's server refused it."
NO_REASON = "No reason was given."

# RFC 3463 "subject.detail" codes that name their cause.
_BY_DETAIL = {
    "1.1": UNKNOWN_ADDRESS,
    "1.2": BAD_DOMAIN,
    "1.3": BAD_ADDRESS,
    "1.4": UNKNOWN_ADDRESS,
    "1.6": MOVED,
    "1.7": SENDER,
    "1.8": SENDER,
    "1.10": BAD_DOMAIN,
    "2.1": MAILBOX_DISABLED,
    "2.2": MAILBOX_FULL,
    "2.3": TOO_LARGE,
    "3.4": TOO_LARGE,
    "4.4": BAD_DOMAIN,
    "4.7": EXPIRED,
    "6.7": SMTPUTF8,
    "7.1": SPAM,
    "7.23": AUTHENTICATION,
    "7.25": AUTHENTICATION,
    "7.26": AUTHENTICATION,
    "7.27": AUTHENTICATION,
}
# The agent's own classification codes (its bounce reasons), when no reply text came.
_AGENT_CODES = {
    "user_unknown": UNKNOWN_ADDRESS,
    "bad_domain": BAD_DOMAIN,
    "bad_address": BAD_ADDRESS,
    "moved": MOVED,
    "sender": SENDER,
    "mailbox_full": MAILBOX_FULL,
    "mailbox_disabled": MAILBOX_DISABLED,
    "message_too_large": TOO_LARGE,
    "policy": SPAM,
    "content": CONTENT,
    "system": SYSTEM,
    "network": UNREACHABLE,
    "expired": EXPIRED,
    "undetermined": REFUSED,
}


# Reply wordings, tried in order: the specific causes before the general ones (a full
# mailbox is also "unavailable", a spam block may mention the "recipient").
_WORDINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (SMTPUTF8, (r"smtputf8", r"non-ascii", r"utf-?8 (address|mailbox)")),
    (CRASHED, (r"crashed the worker",)),
    (RENDERING, (r"rendering failed",)),
    (SIGNING, (r"dkim signing failed",)),
    (EXPIRED, (r"still deferred after", r"expired", r"giving up", r"too long in (the )?queue")),
    (MAILBOX_FULL, (r"mailbox (is )?full", r"over ?quota", r"quota exceeded", r"storage")),
    (THROTTLED, (r"too many (connections|messages)", r"rate limit", r"throttl", r"try .*later")),
    (RELAY, (r"relay(ing)? (access )?(denied|refused|not permitted)",)),
    (AUTHENTICATION, (r"\bdmarc\b", r"\bspf\b", r"\bdkim\b", r"unauthenticated")),
    (SPAM, (r"\bspam\b", r"(black|block) ?list", r"\bblocked\b", r"\brbl\b", r"reputation")),
    (TOO_LARGE, (r"too (large|big)", r"exceeds? (the )?(maximum )?(message )?size")),
    (TIMED_OUT, (r"timed? ?out",)),
    (TLS, (r"tls failed", r"\bssl\b", r"certificate")),
    (UNREACHABLE, (r"cannot connect", r"connection refused", r"unreachable", r"no route")),
    (MAILBOX_DISABLED, (r"(account|mailbox) (has been |is )?(disabled|suspended|inactive)",)),
    (
        BAD_DOMAIN,
        (
            r"domain (name )?(not found|unknown|does not exist)",
            r"no such domain",
            r"host (or domain name )?(unknown|not found)",
            r"no (valid )?mx",
            r"null mx",
            r"unrouteable mail domain",
        ),
    ),
    (
        UNKNOWN_ADDRESS,
        (
            r"user (is )?unknown",
            r"unknown (user|recipient|mailbox|address)",
            r"no such (user|recipient|mailbox|address|account)",
            r"does not exist",
            r"(user|mailbox|recipient) not found",
            r"invalid (recipient|mailbox|user)",
            r"address rejected",
            r"mailbox unavailable",
        ),
    ),
)
_TEXT = tuple((re.compile("|".join(p), re.IGNORECASE), s) for s, p in _WORDINGS)
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_REPLY_CODE = re.compile(r"^\s*([245])\d\d\b")


def explain(reason: str | None) -> Explained:
    """The plain sentence for a failure or bounce reason (a server reply such as
    "550 5.1.1 No such mailbox", or the agent's own words), with the original kept."""
    original = (reason or "").strip()
    if not original:
        return Explained(NO_REASON, "")
    code = _AGENT_CODES.get(original.lower())
    if code is not None:
        return Explained(code, original)
    status = _STATUS.search(original)
    if status is not None:
        found = _BY_DETAIL.get(f"{status.group(2)}.{status.group(3)}")
        if found is not None:
            return Explained(found, original)
    for pattern, sentence in _TEXT:
        if pattern.search(original):
            return Explained(sentence, original)
    klass = status.group(1) if status is not None else _reply_class(original)
    if klass == "4":
        return Explained(TEMPORARY, original)
    return Explained(REFUSED, original)


def _reply_class(text: str) -> str:
    match = _REPLY_CODE.match(text)
    return match.group(1) if match else ""


@dataclass(frozen=True)
class Summary:
    """Recipients of one outcome (failed or bounced) with one plain reason, and the server
    replies behind it, commonest first."""

    outcome: str
    sentence: str
    count: int
    originals: tuple[tuple[str, int], ...]


def summarise(rows: Iterable[tuple[str, str | None, int]]) -> list[Summary]:
    """Group (outcome, reason, count) rows by outcome and plain sentence, commonest first: many
    wordings of "no such mailbox" are one line for the marketer."""
    groups: dict[tuple[str, str], Counter[str]] = {}
    for outcome, reason, count in rows:
        explained = explain(reason)
        groups.setdefault((outcome, explained.sentence), Counter())[explained.original] += count
    summaries = [
        Summary(outcome, sentence, sum(c.values()), tuple(c.most_common()))
        for (outcome, sentence), c in groups.items()
    ]
    return sorted(summaries, key=lambda s: (-s.count, s.outcome, s.sentence))
