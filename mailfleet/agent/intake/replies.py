"""What the intake's replies may say: an RFC 3463 code in every 2xx/4xx/5xx reply (the intake
advertises ENHANCEDSTATUSCODES, RFC 2034), and never a control character a client sent."""

from __future__ import annotations

import re

# aiosmtpd's own replies ("250 OK", "503 Error: need MAIL command", …) come without a code.
_CODED = re.compile(r"^[245]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b")
_BY_REPLY = {"500": "5.5.2", "501": "5.5.4", "502": "5.5.1", "503": "5.5.1", "504": "5.5.4"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def with_enhanced_code(reply: str) -> str:
    """``reply`` with an RFC 3463 code after its reply code when it has none: the syntax and
    sequence errors get their 5.5.x, any other its class's X.0.0. 3xx replies carry none."""
    if reply[:1] not in "245" or len(reply) < 4 or _CODED.match(reply):
        return reply
    code = reply[:3]
    enhanced = _BY_REPLY.get(code, f"{code[0]}.0.0")
    return f"{code}{reply[3]}{enhanced} {reply[4:]}".rstrip()


def has_control(text: str) -> bool:
    """True when ``text`` holds a control character (NUL, CR, ESC, DEL, …)."""
    return _CONTROL.search(text) is not None


def printable(reply: str) -> str:
    """``reply`` with any control character shown as "?": a reply never carries them back."""
    return _CONTROL.sub("?", reply)
