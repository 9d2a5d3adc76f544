"""Address checking for imports and manual entry.

``email-validator`` is the authority, but it checks about 15k addresses a second; a million-row
import cannot wait a minute for it. Plain ASCII addresses of the common shape are accepted by a
strict regular expression that only matches what the library accepts too (a test compares
them); everything else goes to the library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

# Control characters (C0, DEL, C1) and the Unicode line/paragraph separators: any of them in an
# address could split or forge a mail header.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# Dot-atom local part; two or more domain labels; an alphabetic TLD. No "--" anywhere in the
# domain (that is where IDNA's "xn--" and its rules on hyphens live): such domains take the slow
# path.
_FAST = re.compile(rf"({_ATEXT}(?:\.{_ATEXT})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
_SPECIAL_USE = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


@dataclass(frozen=True, slots=True)
class Checked:
    """The outcome of checking one address: the normalised form, or why it was refused."""

    email: str | None
    error: str | None


def header_unsafe(value: str) -> bool:
    """True when ``value`` holds a character that could break a mail header (CR, LF, NUL…)."""
    return _UNSAFE.search(value) is not None


def _fast(address: str) -> str | None:
    match = _FAST.fullmatch(address)
    if match is None or len(address) > 254:
        return None
    local, domain = match.group(1), match.group(2)
    if len(local) > 64 or len(domain) > 253 or "--" in domain:
        return None
    if domain.rsplit(".", 1)[-1].lower() in _SPECIAL_USE:
        return None
    return f"{local}@{domain.lower()}"


def check_address(raw: str) -> Checked:
    """Check one address as typed; surrounding spaces are ignored.

    The normalised form keeps the local part as given and lower-cases the domain, so it is the
    key that makes addresses unique per workspace.
    """
    address = raw.strip(" ")
    # The fast pattern admits no control character, so its matches skip the header check.
    fast = _fast(address)
    if fast is not None:
        return Checked(fast, None)
    if header_unsafe(raw):
        return Checked(None, "address contains a control character (CR, LF, NUL or similar)")
    if not address:
        return Checked(None, "no email address")
    try:
        result = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return Checked(None, f"invalid email address: {exc}")
    local, _, domain = result.normalized.rpartition("@")
    return Checked(f"{local}@{domain.lower()}", None)
