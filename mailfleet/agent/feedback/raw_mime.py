"""The feedback loop on a client's own MIME (SMTP submission, raw_mime): its header fields
(CFBL, List-Unsubscribe) at the top and, when tracked, the open pixel and rewritten links in
its HTML parts, through the same tracker rendered messages use.

Header fields are spliced in as bytes, the rest untouched. Tracking parses the message with
the email package's compat32 policy, whose generator writes back what it parsed (headers as
they were folded, 8-bit text as it was) and changes only the HTML parts the tracker changed;
a message without such a part is returned as it came. An HTML part whose charset Python does
not know, or whose text does not decode in it, is left alone rather than garbled.

Pure functions of bytes; the result is signed afterwards.
"""

from __future__ import annotations

import base64
import codecs
import io
import quopri
from collections.abc import Callable, Iterator, Sequence
from email import message_from_bytes, policy
from email.generator import BytesGenerator
from email.message import Message

_POLICY = policy.compat32.clone(linesep="\r\n")
# RFC 5322's limit on a line; a tracked 7bit/8bit part that grows past it is re-encoded.
_MAX_LINE = 998


def add_fields(data: bytes, fields: Sequence[tuple[str, str]]) -> bytes:
    """``fields`` at the top of the header; the message's own fields of those names go (a
    second CFBL-Feedback-ID or List-Unsubscribe would make the reports ambiguous)."""
    if not fields:
        return data
    names = {name.lower().encode() for name, _ in fields}
    end = data.find(b"\r\n\r\n")
    if data.startswith(b"\r\n"):
        head, body = b"", data
    elif end < 0:
        head, body = (data if data.endswith(b"\r\n") else data + b"\r\n"), b""
    else:
        head, body = data[: end + 2], data[end + 2 :]
    kept: list[bytes] = []
    dropping = False
    for line in head.split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.partition(b":")[0].strip().lower() in names
        if not dropping:
            kept.append(line)
    added = [f"{name}: {value}".encode() for name, value in fields]
    return b"\r\n".join([*added, *kept]) + b"\r\n" + body


def _html_parts(message: Message) -> Iterator[Message]:
    """The inline text/html parts of the message itself (not of messages attached to it)."""
    if message.is_multipart():
        for part in message.get_payload():
            assert isinstance(part, Message)
            if part.get_content_maintype() != "message":
                yield from _html_parts(part)
    elif message.get_content_type() == "text/html":
        if message.get("Content-Disposition", "").strip().lower().startswith("attachment"):
            return
        yield message


def _charset(part: Message) -> str | None:
    name = part.get_content_charset() or "us-ascii"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _track_part(part: Message, tracker: Callable[[str], str]) -> bool:
    """Run ``part``'s text through ``tracker``, in its own charset and transfer encoding.

    Returns whether the part changed."""
    charset = _charset(part)
    raw = part.get_payload(decode=True)
    if charset is None or not isinstance(raw, bytes):
        return False
    try:
        text = raw.decode(charset)
    except UnicodeDecodeError:
        return False
    text = text.replace("\r\n", "\n")
    tracked = tracker(text)
    if tracked == text:
        return False
    encoded = tracked.encode(charset, errors="xmlcharrefreplace")
    cte = part.get("Content-Transfer-Encoding", "").strip().lower()
    if cte not in ("base64", "quoted-printable") and any(
        len(line) > _MAX_LINE for line in encoded.split(b"\n")
    ):
        cte = "quoted-printable"  # a tracked link made a line too long for 7bit or 8bit
        if "Content-Transfer-Encoding" in part:
            part.replace_header("Content-Transfer-Encoding", cte)
        else:
            part["Content-Transfer-Encoding"] = cte
    if cte == "base64":
        payload = base64.encodebytes(encoded.replace(b"\n", b"\r\n")).decode("ascii")
    elif cte == "quoted-printable":
        payload = quopri.encodestring(encoded).decode("ascii")
    else:
        # compat32 keeps 8-bit text as surrogate escapes; the generator writes the bytes back.
        payload = encoded.decode("ascii", "surrogateescape")
    part.set_payload(payload)
    return True


def track_html(data: bytes, tracker: Callable[[str], str]) -> bytes:
    """``data`` with ``tracker`` applied to each inline HTML part; unchanged without one."""
    message = message_from_bytes(data, policy=_POLICY)
    changed = False
    for part in _html_parts(message):
        changed = _track_part(part, tracker) or changed
    if not changed:
        return data
    out = io.BytesIO()
    BytesGenerator(out, mangle_from_=False, maxheaderlen=0, policy=_POLICY).flatten(message)
    return out.getvalue()
