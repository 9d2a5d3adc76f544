"""Bounce classification: an RFC 3463 status code and its text to hard or soft, with a reason.

Hard bounces are the ones that say the address itself cannot receive mail: the mailbox or
its domain does not exist, or it moved. Everything else is soft. Soft bounces that concern the
mailbox (full, disabled, its server failing, delivery expired) count towards the address's
bounce score; soft bounces that concern the message or the sender (too large, content, policy
and spam blocks) do not, since they say nothing about the address and would otherwise suppress
good recipients whenever the sending IP is blocked.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Severity(Enum):
    """Whether the address should stay on the list."""

    HARD = "hard"  # the address cannot receive mail: suppress it
    SOFT = "soft"  # a retry, or a later message, may get through


@dataclass(frozen=True)
class Verdict:
    """What one bounce means for its address."""

    severity: Severity
    # user_unknown, bad_domain, bad_address, moved, mailbox_full, mailbox_disabled,
    # message_too_large, content, policy, spam, sender, system, network, expired, undetermined
    reason: str
    # Whether a soft bounce counts towards the address's bounce score.
    scored: bool

    @property
    def hard(self) -> bool:
        """True for a hard bounce."""
        return self.severity is Severity.HARD


def _hard(reason: str) -> Verdict:
    return Verdict(Severity.HARD, reason, scored=False)


def _soft(reason: str, scored: bool = True) -> Verdict:
    return Verdict(Severity.SOFT, reason, scored)


# RFC 3463 "subject.detail" codes that name their cause precisely.
_BY_DETAIL: dict[str, Verdict] = {
    "1.1": _hard("user_unknown"),
    "1.2": _hard("bad_domain"),
    "1.3": _hard("bad_address"),
    "1.4": _hard("user_unknown"),  # ambiguous address
    "1.6": _hard("moved"),
    "1.7": _soft("sender", scored=False),
    "1.8": _soft("sender", scored=False),
    "1.10": _hard("bad_domain"),  # null MX (RFC 7505); Microsoft uses it for unknown users
    "2.2": _soft("mailbox_full"),
    "2.3": _soft("message_too_large", scored=False),
    "2.4": _soft("system"),
    "3.1": _soft("system"),
    "3.4": _soft("message_too_large", scored=False),
    "4.4": _hard("bad_domain"),  # unable to route: e.g. the domain has only an SOA record
    "4.7": _soft("expired"),
    "7.26": _soft("policy", scored=False),  # authentication (DMARC) failure
}
# Their subject alone, when the detail says nothing more (X.n.0) or is not listed above.
_BY_SUBJECT: dict[str, Verdict] = {
    "1": _soft("undetermined"),
    "2": _soft("mailbox_disabled"),
    "3": _soft("system"),
    "4": _soft("network"),
    "5": _soft("system"),
    "6": _soft("content", scored=False),
    "7": _soft("policy", scored=False),
}

# Refusals that say the sender is being throttled or refused by the recipient's own choice:
# some servers give them a recipient code (5.1.1), but they say nothing about the address.
_NOT_THE_ADDRESS = re.compile(
    r"too many (connections|messages|recipients)|rate limit|recipient preferences",
    re.IGNORECASE,
)

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_REPLY_CODE = re.compile(r"^\s*([245])\d\d\b")


def _patterns(*words: str) -> re.Pattern[str]:
    return re.compile("|".join(words), re.IGNORECASE)


# Reply texts, tried in this order: a full mailbox also "does not accept" mail, a spam block
# may mention the "recipient", so the specific causes come before the general ones.
_TEXT: tuple[tuple[re.Pattern[str], Verdict], ...] = (
    (
        _patterns(
            r"mailbox (is )?full",
            r"over ?quota",
            r"quota exceeded",
            r"exceeded? (the |his |her |its )?(storage|quota)",
            r"insufficient (system )?storage",
            r"mailbox size limit",
            r"full mailbox",
            r"not enough (disk )?space",
        ),
        _soft("mailbox_full"),
    ),
    (
        _patterns(
            r"name service error",
            r"host not found, try again",
            r"temporary (dns |lookup )?failure",
            r"connection (timed out|refused)",
        ),
        _soft("network"),
    ),
    (
        _patterns(
            r"recipient address rejected: access denied", r"invalid (final delivery )?userid"
        ),
        _hard("user_unknown"),
    ),
    (
        _patterns(
            r"message (size )?(is )?too (large|big)",
            r"exceeds? (the )?(maximum )?(message )?size",
            r"message size exceeds",
        ),
        _soft("message_too_large", scored=False),
    ),
    (
        _patterns(
            r"\bspam\b",
            r"black ?list",
            r"block ?list",
            r"\bblocked\b",
            r"\brbl\b",
            r"spamhaus",
            r"reputation",
            r"\bdmarc\b",
            r"\bspf\b",
            r"not allowed to send",
            r"relay(ing)? (access )?denied",
            r"relaying (is )?not permitted",
            r"content (was )?rejected",
            r"\bvirus\b",
            r"access denied",
            r"too many (connections|messages|recipients)",
            r"rate limit",
        ),
        _soft("policy", scored=False),
    ),
    (
        _patterns(
            r"account (has been |is )?(disabled|suspended|inactive|deactivated|locked|expired)",
            r"mailbox (has been |is )?(disabled|suspended|inactive|deactivated|locked)",
            r"inactive (user|account|mailbox)",
            r"mailbox (is )?(temporarily )?(unavailable|not available) for",
        ),
        _soft("mailbox_disabled"),
    ),
    (
        _patterns(
            r"host (or domain name )?(unknown|not found)",
            r"unknown host",
            r"domain (name )?(not found|unknown|does not exist)",
            r"no such domain",
            r"unrouteable mail domain",
            r"name or service not known",
            r"no (valid )?mx",
            r"null mx",
            r"hostname lookup failed",
            r"unknown domain",
            r"(?<![\w.@-])[a-z0-9-]+(\.[a-z0-9-]+)+\.? does not exist",
            r"domain (is )?not (found|valid|exist|reachable)",
            r"domain (does not|doesn'?t) (exist|receive)",
        ),
        _hard("bad_domain"),
    ),
    (
        _patterns(
            r"user (is )?unknown",
            r"unknown (user|recipient|local[- ]part|mailbox|address)",
            r"no such (user|recipient|mailbox|person|address|account)",
            r"recipient (is )?unknown",
            r"(user|recipient|mailbox|address|account|addressee)( name)? (does not|doesn'?t) exist",
            r"does not exist",
            r"(user|mailbox|recipient|account) not found",
            r"not a valid (mailbox|user|recipient)",
            r"invalid (recipient|mailbox|user|address)",
            r"no mailbox",
            r"mailbox (is )?unavailable",
            r"mailbox not available",
            r"unrouteable address",
            r"addressee unknown",
            r"unknown or illegal alias",
            r"not (a )?known user",
            r"no account",
            r"address rejected",
            r"no valid recipients",
            r"bad destination",
            r"no longer (valid|in use|available|active)",
            r"user (account )?(not|is not) (found|valid|listed)",
            r"(user|recipient) (not|is not) in (the )?(local )?(recipient table|directory)",
            r"(recipient|address) (not|is not) (listed|valid)",
            r"not listed in",
            r"address (you entered )?(couldn.?t|could not) be found",
            r"address not found",
            r"(recipient|user) name is not recognized",
            r"doesn'?t have an? .* account",
        ),
        _hard("user_unknown"),
    ),
    (
        _patterns(
            r"(delivery|message) (time )?expired",
            r"retry (timeout|time not reached) exceeded",
            r"could not be delivered (with)?in",
            r"too long in (the )?queue",
            r"giving up",
        ),
        _soft("expired"),
    ),
)


# A message still deferred when it expires: the address kept failing for days.
EXPIRED = _soft("expired")
# A local delivery program (procmail, a pipe; RFC 3464 diagnostic type X-Unix) failed: the
# mail system's fault, not the address's.
LOCAL_PROGRAM = _soft("system")


def status_code(text: str) -> str:
    """The first RFC 3463 status code in ``text`` ("5.1.1"), or ""."""
    match = _STATUS.search(text)
    return ".".join(match.groups()) if match else ""


def classify(
    status: str, text: str = "", *, after_data: bool = False, after_mail: bool = False
) -> Verdict:
    """Classify a permanent failure by its status code (found in ``text`` when empty).

    A precise code decides (5.1.1 is hard whatever the text says) unless the text says the
    refusal is a throttle or the recipient's filter; a generic code (5.0.0, 5.1.0, 5.2.0, …)
    or none leaves it to the text, and failing that to the code's subject.
    ``after_data``: the refusal came after the server had accepted the recipient (at DATA),
    so an "unknown user" there is a filter's verdict on the message, not a dead address.
    ``after_mail``: the refusal answered MAIL FROM, before any recipient was named, so it
    is about the sender whatever it says.
    """
    if after_mail:
        return _soft("sender", scored=False)
    if _NOT_THE_ADDRESS.search(text):
        return _soft("policy", scored=False)
    status = status or status_code(text)
    verdict = _by_code_or_text(status, text)
    if verdict.reason == "user_unknown" and after_data and is_generic(status):
        return _soft("filtered", scored=False)
    if verdict.reason == "bad_domain" and status.startswith("4"):
        # A DNS failure reported with a transient status (4.x.x) may well pass.
        return _soft(verdict.reason)
    return verdict


_RECIPIENT_NOT_FOUND = re.compile(r"recipientnotfound|recipient .* not found", re.IGNORECASE)


def _by_code_or_text(status: str, text: str) -> Verdict:
    parts = status.split(".")
    detail = ".".join(parts[1:3]) if len(parts) == 3 else ""
    if detail == "1.10" and _RECIPIENT_NOT_FOUND.search(text):
        return _hard("user_unknown")
    if detail in _BY_DETAIL:
        return _BY_DETAIL[detail]
    for pattern, verdict in _TEXT:
        if pattern.search(text):
            return verdict
    if len(parts) == 3 and parts[1] in _BY_SUBJECT:
        return _BY_SUBJECT[parts[1]]
    return _soft("undetermined")


def is_generic(status: str) -> bool:
    """True when a status code names no precise cause (none, X.0.0, or an unknown detail)."""
    parts = status.split(".")
    return len(parts) != 3 or ".".join(parts[1:3]) not in _BY_DETAIL


def is_permanent(status: str, text: str = "") -> bool:
    """True when the code (or the reply's basic code) is 5xx: the message will never go."""
    status = status or status_code(text)
    if status:
        return status.startswith("5")
    match = _REPLY_CODE.match(text)
    return bool(match and match.group(1) == "5")
