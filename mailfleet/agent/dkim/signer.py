"""The worker's DKIM signer: dkimpy's header handling and format, OpenSSL's signing.

``dkim.sign`` re-parses the PEM key on every call and signs RSA in pure Python (about 114
signatures a second here); through ``cryptography`` a loaded key signs about 1,400 a second.
So the keys are loaded once, and the signature is built from dkimpy's own pieces, the same
steps as ``dkim.DomainSigner.gen_header``: header parsing (``rfc822_parse``), ``fold`` and
``RE_BTAG`` (which blanks ``b=``); only the digest is signed with the pre-loaded key. The
relaxed canonicalisation of body and header fields, and the choice of the signed header
instances, are equivalent shortcuts (tests compare them with dkimpy's): done with dkimpy's
regular expressions they cost more than everything else but the RSA operation.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Iterable
from email.utils import parseaddr

import dkim
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from dkim.canonicalization import correct_empty_body, strip_trailing_lines

from mailfleet.agent.dkim.keys import DkimKey

_NAME = b"DKIM-Signature"
# Header fields signed when present, in this order, each as often as it occurs.
_SIGNED = (
    b"from",
    b"sender",
    b"reply-to",
    b"to",
    b"cc",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"cfbl-address",
    b"cfbl-feedback-id",
)
# Listed once more than they occur, so none can be added (or, for the List-Unsubscribe pair
# and the CFBL fields of RFC 9477, added to a message that had none) without breaking the
# signature.
_OVERSIGNED = (
    b"from",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"cfbl-address",
    b"cfbl-feedback-id",
)
_ALGORITHM = {"rsa": b"rsa-sha256", "ed25519": b"ed25519-sha256"}
_ANGLE_ADDRESS = re.compile(rb"<[^<>@]*@([^<>@]+)>\s*$")
# Relaxed body canonicalisation in C-speed steps: tabs become spaces, runs of spaces one.
_TAB_TO_SPACE = bytes.maketrans(b"\t", b" ")
_SPACE_RUN = re.compile(rb"  +")


class SignError(ValueError):
    """The message cannot be signed (its header section does not parse); fail only it."""


def _parse(message: bytes, crlf: bool) -> tuple[list[list[bytes]], bytes]:
    """``dkim.rfc822_parse(message)``, without splitting a CRLF-only body into lines.

    dkimpy splits the whole message at every line end to rejoin the body with CRLF; when the
    message has no bare LF (``crlf``: known not to, else counted) the body already is that,
    so only the header block is parsed.
    """
    end = message.find(b"\r\n\r\n")
    if end < 0 or not (crlf or message.count(b"\n") == message.count(b"\r\n")):
        headers, body = dkim.rfc822_parse(message)
        return headers, body
    if crlf:
        return _fields(message[:end]), message[end + 4 :]
    headers, _ = dkim.rfc822_parse(message[: end + 4])
    return headers, message[end + 4 :]


def _fields(block: bytes) -> list[list[bytes]]:
    """The header block of a message the agent built itself, split as rfc822_parse does:
    ``[name, value]``, the value with its folded lines and final CRLF.

    The renderer writes only well-formed fields, so the checks dkimpy makes line by line (a
    few times the cost of splitting) can be skipped.
    """
    fields: list[list[bytes]] = []
    for line in block.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            fields[-1][1] += b"\r\n" + line
        else:
            name, _, value = line.partition(b":")
            fields.append([name, value])
    for field in fields:
        field[1] += b"\r\n"
    return fields


def _canonical_body(body: bytes) -> bytes:
    """dkimpy's relaxed body canonicalisation, several times faster on a typical body.

    Same result (a test compares them): once every WSP run is a single space, trailing WSP
    is exactly one space before a CRLF, which a plain replace removes; and a body without
    " CRLF" to begin with cannot gain one.
    """
    trailing = b" \r\n" in body or b"\t\r\n" in body
    if b"\t" in body:
        body = body.translate(_TAB_TO_SPACE)
    if b"  " in body:
        body = _SPACE_RUN.sub(b" ", body)
    if trailing:
        body = body.replace(b" \r\n", b"\r\n")
    canonical: bytes = correct_empty_body(strip_trailing_lines(body))
    return canonical


def relaxed_header(name: bytes, value: bytes) -> tuple[bytes, bytes]:
    """A header field's relaxed canonical name and value (RFC 6376 section 3.4.2), CRLF-less.

    As dkimpy: name lower-cased, line ends removed (unfolding), WSP runs made one space, and
    the value stripped.
    """
    if b"\n" in value:
        value = value.replace(b"\r\n", b"").replace(b"\n", b"")
    if b"\t" in value:
        value = value.translate(_TAB_TO_SPACE)
    if b"  " in value:
        value = _SPACE_RUN.sub(b" ", value)
    return name.lower().rstrip(), value.strip()


def signed_header_input(headers: list[list[bytes]], include: list[bytes]) -> bytes:
    """The hash input of the fields named in ``include``, canonicalised relaxed.

    Repeated names take instances from the bottom up; a name with no instance left adds
    nothing (RFC 6376 section 5.4.2), which is what makes over-signing work.
    """
    positions: dict[bytes, list[bytes]] = {}
    for name, value in headers:
        lower, canonical = relaxed_header(name, value)
        positions.setdefault(lower, []).append(canonical)
    chunks = []
    for name in include:
        instances = positions.get(name)
        if instances:
            chunks.append(name + b":" + instances.pop() + b"\r\n")
    return b"".join(chunks)


def _from_domain(headers: list[list[bytes]]) -> str | None:
    """The domain of the (first) From address, lower-case."""
    for name, value in headers:
        if name.lower() == b"from":
            match = _ANGLE_ADDRESS.search(value)
            if match is not None:
                return match.group(1).decode("ascii", "replace").strip().lower()
            address = parseaddr(value.decode("ascii", "replace"))[1]
            return address.rpartition("@")[2].lower() or None
    return None


def _signed_fields(headers: list[list[bytes]]) -> list[bytes]:
    """The ``h=`` list: present fields as often as they occur, plus the over-signed ones."""
    counts: dict[bytes, int] = {}
    for name, _ in headers:
        lower = name.lower()
        counts[lower] = counts.get(lower, 0) + 1
    fields = []
    for name in _SIGNED:
        fields.extend([name] * (counts.get(name, 0) + (name in _OVERSIGNED)))
    return fields


class DkimSigner:
    """Signs messages with the keys of their From domain; build once per worker."""

    def __init__(self, keys: Iterable[DkimKey]) -> None:
        self._keys: dict[str, list[DkimKey]] = {}
        # RSA first: both verify alike, the order only makes the output predictable.
        for key in sorted(keys, key=lambda k: (k.algorithm != "rsa", k.selector)):
            self._keys.setdefault(key.domain, []).append(key)

    @property
    def domains(self) -> frozenset[str]:
        """Domains that have at least one key."""
        return frozenset(self._keys)

    def sign(self, message: bytes, *, crlf: bool = False) -> bytes:
        """``message`` with one DKIM-Signature per key of its From domain prepended.

        A message whose From domain has no key is returned unchanged. Signatures are
        relaxed/relaxed, rsa-sha256 or ed25519-sha256, with ``t=`` but no expiry. Raises
        :class:`SignError` for a header section that does not parse (raw MIME from a client).
        ``crlf`` says the caller built the message with CRLF line ends only (the renderer
        does), which spares two scans of the whole message.
        """
        try:
            headers, body = _parse(message, crlf)
        except dkim.MessageFormatError as exc:
            raise SignError(f"cannot DKIM-sign: {exc}") from None
        domain = _from_domain(headers)
        keys = self._keys.get(domain or "")
        if not keys:
            return message
        include = _signed_fields(headers)
        signed = signed_header_input(headers, include)
        body_hash = base64.b64encode(hashlib.sha256(_canonical_body(body)).digest())
        now = str(int(time.time())).encode("ascii")
        signatures = [self._signature(key, include, signed, body_hash, now) for key in keys]
        return b"".join(signatures) + message

    @staticmethod
    def _signature(
        key: DkimKey,
        include: list[bytes],
        signed: bytes,
        body_hash: bytes,
        now: bytes,
    ) -> bytes:
        fields = [
            (b"v", b"1"),
            (b"a", _ALGORITHM[key.algorithm]),
            (b"c", b"relaxed/relaxed"),
            (b"d", key.domain.encode("ascii")),
            (b"s", key.selector.encode("ascii")),
            (b"t", now),
            (b"h", b" : ".join(include)),
            (b"bh", body_hash),
            # A placeholder long enough that b= folds onto its own line, as dkimpy does, so
            # the folding of the other tags is the same once the real value is in.
            (b"b", b"0" * 60),
        ]
        value = dkim.fold(b"; ".join(b"=".join(f) for f in fields), namelen=len(_NAME))
        # The signature field itself is hashed with b= empty and without its final CRLF. b= is
        # the last tag and its placeholder has no "b=" in it, so cutting after the last "b="
        # blanks it exactly as dkimpy's RE_BTAG does, without that costly expression.
        name, blanked = relaxed_header(_NAME, b" " + value[: value.rindex(b"b=") + 2])
        digest = hashlib.sha256(signed + name + b":" + blanked).digest()
        private = key.private_key
        if isinstance(private, rsa.RSAPrivateKey):
            signature = private.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        else:
            # RFC 8463: Ed25519 signs the SHA-256 digest of the header hash input.
            signature = private.sign(digest)
        fields[-1] = (b"b", base64.b64encode(signature))
        folded: bytes = dkim.fold(
            b"; ".join(b"=".join(f) for f in fields) + b"\r\n", namelen=len(_NAME)
        )
        return _NAME + b": " + folded
