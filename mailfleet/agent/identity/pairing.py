"""The pairing string: everything a client needs to reach one agent safely.

``mailfleet://HOST:PORT?fp=sha256:<64 hex>&key=<api key>`` — the address, the SHA-256
fingerprint of the agent's certificate (pinned by the client) and an API key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

_FINGERPRINT = re.compile(r"sha256:([0-9a-f]{64})")


class PairingError(ValueError):
    """The pairing string is malformed; the message says which part."""


@dataclass(frozen=True)
class Pairing:
    """A parsed pairing string."""

    host: str
    port: int
    fingerprint: str  # lower-case hex of SHA-256 over the certificate's DER bytes
    api_key: str

    @property
    def target(self) -> str:
        """The gRPC target, ``host:port`` (IPv6 hosts bracketed)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"mailfleet://{self.target}?fp=sha256:{self.fingerprint}&key={self.api_key}"


def parse(text: str) -> Pairing:
    """Parse a pairing string, raising :class:`PairingError` that names the bad part."""
    parts = urlsplit(text.strip())
    if parts.scheme != "mailfleet":
        raise PairingError("a pairing string starts with mailfleet://")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise PairingError(f"bad port: {exc}") from None
    if not host or port is None:
        raise PairingError("the pairing string has no host:port")
    query = parse_qs(parts.query)
    fp = _FINGERPRINT.fullmatch((query.get("fp") or [""])[0].lower())
    if fp is None:
        raise PairingError("fp must be sha256: followed by 64 hex digits")
    key = (query.get("key") or [""])[0]
    if not key:
        raise PairingError("the pairing string has no key")
    return Pairing(host, port, fp.group(1), key)
