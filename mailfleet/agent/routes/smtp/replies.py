"""Turn an SMTP reply or a delivery error into an :class:`Outcome` (RFC 5321, RFC 3463).

2xx is delivered, 4xx deferred, 5xx bounced; anything that never got a reply (refused
connection, timeout, lost connection, TLS failure) is deferred, because it says nothing about
the recipient.
"""

from __future__ import annotations

import os
import re
import ssl

import aiosmtplib

from mailfleet.agent.routes.base import Outcome, OutcomeKind

# RFC 3463: class.subject.detail at the start of the reply text (after the basic code).
_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")


def enhanced_code(code: int, text: str) -> str:
    """The enhanced status code at the start of ``text``, or "" when absent or inconsistent.

    RFC 2034 requires the class digit to match the basic code's first digit; a mismatch means
    the text is not an enhanced code at all, so it is ignored rather than trusted.
    """
    match = _ENHANCED.match(text.lstrip())
    if match is None or match.group(1) != str(code)[0]:
        return ""
    return ".".join(match.groups())


def one_line(code: int, text: str) -> str:
    """The reply as one line ("550 5.1.1 No such user"); multi-line replies are joined."""
    return f"{code} {' '.join(text.split())}".strip()


def from_reply(message_id: int, code: int, text: str, host: str) -> Outcome:
    """Classify one final SMTP reply to a message's transaction."""
    if 200 <= code < 300:
        kind = OutcomeKind.DELIVERED
    elif 500 <= code < 600:
        kind = OutcomeKind.BOUNCED
    else:
        # 4xx, and anything outside the defined classes, is worth another try.
        kind = OutcomeKind.DEFERRED
    return Outcome(
        message_id=message_id,
        kind=kind,
        reply=one_line(code, text),
        host=host,
        enhanced=enhanced_code(code, text),
    )


def deferred(
    message_id: int,
    reason: str,
    host: str = "",
    enhanced: str = "",
    *,
    infrastructure: bool = False,
) -> Outcome:
    """A try that must be repeated later, with a short human reason (``infrastructure``: the
    route itself failed and nothing was sent)."""
    return Outcome(
        message_id=message_id,
        kind=OutcomeKind.DEFERRED,
        reply=reason,
        host=host,
        enhanced=enhanced,
        infrastructure=infrastructure,
    )


def describe_error(exc: BaseException) -> str:
    """A short description of a connection-level error, for an outcome's reply."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return one_line(exc.code, exc.message)
    cause = exc.__cause__
    if isinstance(exc, aiosmtplib.SMTPConnectError) and isinstance(cause, OSError) and cause.errno:
        # aiosmtplib's own text repeats the address; the errno says what went wrong.
        return f"cannot connect: {os.strerror(cause.errno)}"
    if isinstance(exc, TimeoutError):
        return f"timed out: {exc}" if str(exc) else "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, aiosmtplib.SMTPException):
        return exc.message
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def session_failure(message_id: int, exc: BaseException, host: str) -> Outcome:
    """A message that could not be tried because the session failed (connect, TLS, AUTH).

    Even a 5xx here (a refused greeting, a rejected password) is about us, not the recipient,
    so it defers: bouncing would wrongly suppress the address.
    """
    enhanced = ""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        enhanced = enhanced_code(exc.code, exc.message)
    return deferred(message_id, describe_error(exc), host, enhanced, infrastructure=True)


def failed(message_id: int, reason: str) -> Outcome:
    """A message that cannot be sent as it is (an envelope no SMTP server could accept)."""
    return Outcome(message_id=message_id, kind=OutcomeKind.FAILED, reply=reason)
