"""Pure checks for addresses, display names, merge fields and other client input.

The ASCII fast path is a compiled regular expression (uploads check a million addresses in a few
seconds); addresses with non-ASCII characters go to ``email-validator``, which knows IDNA and
SMTPUTF8 rules.
"""

from __future__ import annotations

import re
from enum import Enum

from email_validator import EmailNotValidError, validate_email

from mailfleet.agent.errors import InvalidArgument

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# Possessive quantifiers: nothing here needs backtracking, and a million checks add up.
_ASCII_ADDRESS = re.compile(
    rf"(?P<local>{_ATEXT}++(?:\.{_ATEXT}++)*+)@"
    rf"(?P<domain>(?:{_LABEL}\.)++(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{1,59}}))"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_HEADER_NAME = re.compile(r"[!-9;-~]{1,76}")
_IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,200}")
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")
_MAX_ADDRESS = 254
_MAX_LOCAL = 64

RESERVED_FIELDS = frozenset({"email", "name"})
# Headers the agent writes itself; a campaign may not set them through extra headers.
RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "From",
        "To",
        "Cc",
        "Bcc",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Sender",
        "Reply-To",
        "Return-Path",
        "Received",
        "DKIM-Signature",
        "Content-Type",
        "Content-Transfer-Encoding",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
    )
)


class AddressProblem(Enum):
    """Why an address is refused."""

    SYNTAX = "syntax"
    HEADER_UNSAFE = "header-unsafe"


def normalize_address(address: str) -> str | None:
    """Return the address with its domain lower-cased, or None if it is not a valid mailbox.

    Callers that need the reason use :func:`address_problem`.
    """
    if len(address) <= _MAX_ADDRESS:
        m = _ASCII_ADDRESS.fullmatch(address)
        if m is not None:
            local = m.group("local")
            if len(local) <= _MAX_LOCAL:
                return f"{local}@{m.group('domain').lower()}"
            return None
    if address.isascii() or _CONTROL.search(address):
        return None
    try:
        checked = validate_email(address, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError:
        return None
    return f"{checked.local_part}@{checked.domain.lower()}"


def needs_smtputf8(address: str) -> bool:
    """True when ``address`` has a non-ASCII local part, which only SMTPUTF8 (RFC 6531) can
    carry; a non-ASCII domain alone does not, its IDNA form (A-labels) goes anywhere."""
    return not address.isascii() and not address.rpartition("@")[0].isascii()


def address_problem(address: str) -> AddressProblem:
    """Classify an address that :func:`normalize_address` refused."""
    if _CONTROL.search(address):
        return AddressProblem.HEADER_UNSAFE
    return AddressProblem.SYNTAX


def is_header_safe(text: str) -> bool:
    """True when ``text`` holds no CR, LF, NUL or other control character."""
    return _CONTROL.search(text) is None


def is_field_name(name: str) -> bool:
    """True for a usable merge field name (an identifier, not a reserved name)."""
    return _FIELD_NAME.fullmatch(name) is not None and name not in RESERVED_FIELDS


def is_header_name(name: str) -> bool:
    """True for an RFC 5322 field name that the agent does not write itself."""
    return _HEADER_NAME.fullmatch(name) is not None and name.lower() not in RESERVED_HEADERS


def is_idempotency_key(key: str) -> bool:
    """True for a client idempotency key: 1-200 printable ASCII characters."""
    return _IDEMPOTENCY_KEY.fullmatch(key) is not None


def normalize_domain(domain: str) -> str:
    """A domain as stored and compared: lower case, IDNA, no final dot."""
    text = domain.strip().rstrip(".").lower()
    try:
        return text.encode("idna").decode("ascii")
    except UnicodeError:
        return text


def is_domain_name(norm: str) -> bool:
    """True for a domain name in the form :func:`normalize_domain` gives."""
    return _DOMAIN.fullmatch(norm) is not None


def split_host_port(listen: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[v6]:PORT`` for IPv6) and check the port's range."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{listen!r} is not HOST:PORT")
    return host.strip("[]"), int(port_text)


# Checks of one client field that raise InvalidArgument naming it (the API's and the SMTP
# intake's control headers share them).
MAX_NAME = 200
MAX_TAGS = 50


def text_line(field: str, value: str, *, required: bool = False, limit: int = MAX_NAME) -> str:
    """A one-line text: no control characters, bounded length."""
    if required and not value.strip():
        raise InvalidArgument(field, "required")
    if len(value) > limit:
        raise InvalidArgument(field, f"longer than {limit} characters")
    if not is_header_safe(value):
        raise InvalidArgument(field, "must not contain CR, LF, NUL or other control characters")
    return value


def tags(field: str, values: list[str]) -> tuple[str, ...]:
    """Short labels used by routing rules and reports."""
    if len(values) > MAX_TAGS:
        raise InvalidArgument(field, f"at most {MAX_TAGS} tags")
    for i, tag in enumerate(values):
        text_line(f"{field}[{i}]", tag, required=True, limit=100)
    return tuple(values)
