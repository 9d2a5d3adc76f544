"""Direct MIME assembly: header fields and text parts as CRLF bytes, ready for SMTP DATA.

``email.message.EmailMessage`` builds and serialises about 420 messages a second; the
message shapes the agent sends are few (one text part, or text and HTML alternatives), so
they are assembled here from strings with the stdlib's C-backed encoders instead.

Every header value is checked for CR, LF and NUL before it is written: a merge value that
carries them must never add a header field (this Python's ``email`` package does not refuse
them on output).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets

# Soft and hard limits on line length (RFC 5322 section 2.1.1), CRLF excluded.
_SOFT_LINE = 78
_HARD_LINE = 998
# UTF-8 bytes per encoded word: a multiple of 3 so base64 needs no padding, and short
# enough that "Subject: " plus one word stays within 78 characters.
_WORD_BYTES = 39

_FORBIDDEN = re.compile(r"[\r\n\0]")
_FIELD_NAME = re.compile(r"[!-9;-~]+")
_PHRASE_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")
_ADDR_SPEC = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")
# A UTF-8 local part (RFC 6532 section 3.2): atext and any non-ASCII character, dot-separated.
_UTF8_ATOM = r"[^\x00-\x20\x7f\"(),.:;<>@\[\\\]]+"
_UTF8_LOCAL = re.compile(rf"{_UTF8_ATOM}(?:\.{_UTF8_ATOM})*")
_DOMAIN = re.compile(r"[A-Za-z0-9.-]+")
_FOLD_POINT = re.compile(r"(?<=\S) ")
# Bytes 0x80-0xff, deleted with bytes.translate to count non-ASCII octets at C speed.
_HIGH_BYTES = bytes(range(0x80, 0x100))


class RenderError(ValueError):
    """This one message cannot be rendered; the text says why, for the message's outcome."""


def check_value(name: str, value: str) -> None:
    """Refuse a header value that could end its field early (CR, LF or NUL)."""
    if _FORBIDDEN.search(value):
        raise RenderError(f"{name} header would contain a line break or NUL")


def check_field_name(name: str) -> None:
    """Refuse a header field name outside RFC 5322's printable ASCII without a colon."""
    if not _FIELD_NAME.fullmatch(name):
        raise RenderError(f"invalid header name {name!r}")


def _encoded_words(value: str) -> list[str]:
    """``value`` as RFC 2047 base64 encoded words, split between characters, never inside."""
    words: list[str] = []
    start = size = 0
    for i, char in enumerate(value):
        code = ord(char)
        width = 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
        if size + width > _WORD_BYTES:
            words.append(value[start:i])
            start, size = i, 0
        size += width
    words.append(value[start:])
    return [
        "=?utf-8?b?" + base64.b64encode(word.encode("utf-8")).decode("ascii") + "?="
        for word in words
    ]


def _fold(line: str) -> str:
    """Fold ``Name: value`` at spaces that follow text, so no line passes 78 if avoidable."""
    if len(line) <= _SOFT_LINE:
        return line
    lines: list[str] = []
    start = 0
    last = -1
    for match in _FOLD_POINT.finditer(line):
        point = match.start()
        if point - start > _SOFT_LINE and last > start:
            lines.append(line[start:last])
            start = last
        last = point
    if len(line) - start > _SOFT_LINE and last > start:
        lines.append(line[start:last])
        start = last
    lines.append(line[start:])
    return "\r\n".join(lines)


def _needs_encoding(value: str) -> bool:
    # Text that merely looks like an encoded word must be encoded too (RFC 2047 section 5).
    return not value.isascii() or "=?" in value


def unstructured(name: str, value: str) -> str:
    """A checked, folded ``Name: value`` line with CRLF; RFC 2047 words for non-ASCII text."""
    check_value(name, value)
    if _needs_encoding(value):
        return _fold(f"{name}: " + " ".join(_encoded_words(value))) + "\r\n"
    line = _fold(f"{name}: {value}")
    if max(len(part) for part in line.split("\r\n")) > _HARD_LINE:
        # A single unbreakable run longer than a line may be: encoded words can be split.
        return _fold(f"{name}: " + " ".join(_encoded_words(value))) + "\r\n"
    return line + "\r\n"


def addr_spec(email: str) -> str:
    """The address as it may appear in a header, with an IDNA (punycode) domain.

    A non-ASCII local part is written as UTF-8 (RFC 6532): such a message can only travel
    with SMTPUTF8, which the SMTP routes ask for (or fail it when the server lacks it).
    """
    check_value("address", email)
    if not email.isascii():
        local, at, domain = email.rpartition("@")
        if not at:
            raise RenderError(f"invalid address {email!r}")
        try:
            ascii_domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise RenderError(f"address {email!r} has an invalid domain") from None
        email = f"{local}@{ascii_domain}"
        if not local.isascii():
            if not (_UTF8_LOCAL.fullmatch(local) and _DOMAIN.fullmatch(ascii_domain)):
                raise RenderError(f"invalid address {email!r}")
            return email
    if not _ADDR_SPEC.fullmatch(email):
        raise RenderError(f"invalid address {email!r}")
    return email


def mailbox(name: str, display: str, email: str) -> str:
    """A ``Name: display <address>`` line with CRLF; the display name quoted or encoded."""
    address = addr_spec(email)
    if not display:
        return f"{name}: {address}\r\n"
    check_value(f"{name} display name", display)
    if _needs_encoding(display):
        phrase = " ".join(_encoded_words(display))
    elif _PHRASE_ATOMS.fullmatch(display):
        phrase = display
    else:
        phrase = '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return _fold(f"{name}: {phrase} <{address}>") + "\r\n"


def text_part(subtype: str, text: str) -> bytes:
    """A ``text/<subtype>`` UTF-8 entity: its Content-* headers, a blank line, the body.

    Quoted-printable keeps mostly-ASCII text readable; base64 is smaller once more than a
    fifth of the octets are non-ASCII. Both keep every line within 76 octets.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    data = text.replace("\n", "\r\n").encode("utf-8")
    if not data.endswith(b"\r\n"):
        # Also makes binascii use CRLF for its soft line breaks: it copies the first line end.
        data += b"\r\n"
    high = 0 if data.isascii() else len(data) - len(data.translate(None, _HIGH_BYTES))
    if high * 5 > len(data):
        encoding = "base64"
        body = base64.encodebytes(data).replace(b"\n", b"\r\n")
    else:
        encoding = "quoted-printable"
        body = binascii.b2a_qp(data, istext=True)
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    )
    return head.encode("ascii") + body


def assemble(head: str, parts: list[bytes]) -> bytes:
    """The whole message: ``head`` (CRLF-ended lines) then one part, or alternatives.

    ``head`` is ASCII unless an address has a UTF-8 local part (RFC 6532); UTF-8 encodes
    ASCII text as fast as the ASCII codec does. The boundary starts with "=_", which neither
    quoted-printable nor base64 output can contain, so the bodies need no scan for it.
    """
    if len(parts) == 1:
        return head.encode("utf-8") + parts[0]
    boundary = "=_" + secrets.token_hex(12)
    head += f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
    delimiter = f"\r\n--{boundary}\r\n".encode("ascii")
    return b"".join(
        (
            head.encode("utf-8"),
            delimiter[2:],
            delimiter.join(parts),
            f"\r\n--{boundary}--\r\n".encode("ascii"),
        )
    )
