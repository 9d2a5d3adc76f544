"""Signed tokens that name a message: for unsubscribe links, tracking links, web versions, VERP
return paths and CFBL feedback IDs; and the signup forms' tokens
(:mod:`mailfleet.agent.signup.tokens`).

A token is lower-case hex (so it survives MTAs that fold the case of a local part) of the
tenant, campaign and message ids as varints followed by an 80-bit HMAC-SHA256 over a
purpose byte, those ids and any extra data (a click's target URL). A token made for one
purpose never verifies for another, and a changed id, URL or MAC never verifies at all.

The key is 32 random bytes in a 0600 file in the data directory, made once by the
coordinator; workers only read it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from mailfleet.agent.identity.tls import write_private

_KEY_BYTES = 32
_MAC_BYTES = 10
_MAX_TOKEN = 64


class TokenKeyError(Exception):
    """The key file is unusable; the message says what to do."""


class Purpose(Enum):
    """What a token may be used for."""

    UNSUBSCRIBE = b"u"
    BOUNCE = b"b"
    OPEN = b"o"
    CLICK = b"c"
    FEEDBACK_ID = b"f"
    # ``{{ web_version_url }}``: the message as its recipient got it, shown in a browser.
    VIEW = b"v"
    # A signup form's time token: tenant, form, the second the page was served.
    FORM_TIME = b"t"
    # A double opt-in confirmation link: tenant, form, signup.
    CONFIRM = b"s"


@dataclass(frozen=True)
class Subject:
    """The message a token names (campaign 0 for a transactional message); a signup token's
    three numbers are named in :class:`Purpose`."""

    tenant_id: int
    campaign_id: int
    message_id: int


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varints(data: bytes, count: int) -> tuple[list[int], int] | None:
    values: list[int] = []
    pos = 0
    for _ in range(count):
        n = shift = 0
        while True:
            if pos >= len(data) or shift > 63:
                return None
            byte = data[pos]
            pos += 1
            n |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        values.append(n)
    return values, pos


class TokenKey:
    """Makes and checks tokens with one secret key."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != _KEY_BYTES:
            raise TokenKeyError(f"a token key has {_KEY_BYTES} bytes, not {len(secret)}")
        # The key's HMAC state, copied per token: cheaper than keying a fresh HMAC each time,
        # and a worker makes several tokens per message.
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256)

    @classmethod
    def load(cls, path: Path) -> TokenKey:
        """The key in ``path``."""
        try:
            secret = path.read_bytes()
        except OSError as exc:
            raise TokenKeyError(f"cannot read the token key {path}: {exc.strerror}") from None
        if len(secret) != _KEY_BYTES:
            raise TokenKeyError(
                f"{path} is not a token key ({len(secret)} bytes); delete it to make a new one,"
                " which voids every unsubscribe and tracking link sent so far"
            )
        return cls(secret)

    @classmethod
    def load_or_create(cls, path: Path) -> TokenKey:
        """The key in ``path``, made (mode 0600) if there is none yet."""
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                write_private(path, secrets.token_bytes(_KEY_BYTES))
            except FileExistsError:
                pass  # made meanwhile by another process: use that one
            else:
                os.chmod(path, 0o600)
        return cls.load(path)

    def _mac(self, purpose: Purpose, payload: bytes, extra: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(purpose.value + payload + extra)
        return mac.digest()[:_MAC_BYTES]

    def make(self, purpose: Purpose, subject: Subject, extra: bytes = b"") -> str:
        """A token for ``subject`` (and ``extra``, which the checker must present again)."""
        payload = (
            _varint(subject.tenant_id) + _varint(subject.campaign_id) + _varint(subject.message_id)
        )
        return (payload + self._mac(purpose, payload, extra)).hex()

    def read(self, purpose: Purpose, token: str, extra: bytes = b"") -> Subject | None:
        """The subject of a genuine token, or None for anything forged, altered or malformed."""
        if not token or len(token) > _MAX_TOKEN:
            return None
        try:
            raw = bytes.fromhex(token)
        except ValueError:
            return None
        parsed = _read_varints(raw, 3)
        if parsed is None:
            return None
        (tenant_id, campaign_id, message_id), end = parsed
        payload, mac = raw[:end], raw[end:]
        if len(mac) != _MAC_BYTES or not hmac.compare_digest(
            mac, self._mac(purpose, payload, extra)
        ):
            return None
        return Subject(tenant_id, campaign_id, message_id)
