"""DKIM private keys on disk and the DNS TXT records that publish them.

Layout under ``AgentSettings.dkim_dir``: ``<domain>/<selector>.<rsa|ed25519>.pem``, each a
PKCS#8 PEM file of mode 0600 in directories of mode 0700. A key is never overwritten, and a
selector holds one key only: its DNS name can publish one.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailfleet.agent.identity.accounts import user_name

Algorithm = Literal["rsa", "ed25519"]
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

ALGORITHMS: tuple[Algorithm, ...] = ("rsa", "ed25519")
RSA_BITS = 2048
# Domain names and selectors: dot-separated labels of letters, digits, hyphens (and
# underscores, which DNS allows in selectors); nothing that could walk out of the key dir.
_LABELS = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9_-]{1,63}(?<!-))*")
_KEY_FILE = re.compile(r"(?P<selector>.+)\.(?P<algorithm>rsa|ed25519)\.pem")


class DkimKeyError(Exception):
    """A key cannot be created or loaded; the message names the file or the value."""


@dataclass(frozen=True)
class DkimKey:
    """One loaded signing key."""

    domain: str
    selector: str
    algorithm: Algorithm
    private_key: PrivateKey
    path: Path


@dataclass(frozen=True)
class DnsRecord:
    """A TXT record to publish: ``name`` (no trailing dot) and the ``value`` text."""

    name: str
    value: str

    def zone_line(self) -> str:
        """The record as ``NAME  "VALUE"``, for an operator to copy."""
        return f'{self.name}  "{self.value}"'


def normalise_domain(domain: str) -> str:
    """A sending domain as keys are filed and looked up: lower case, IDNA, no final dot."""
    text = domain.strip().rstrip(".")
    try:
        text = text.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise DkimKeyError(f"invalid domain {domain!r}") from None
    if not _LABELS.fullmatch(text):
        raise DkimKeyError(f"invalid domain {domain!r}")
    return text


def check_selector(selector: str) -> str:
    """The selector if it is a valid DNS name part, else :class:`DkimKeyError`."""
    if not _LABELS.fullmatch(selector):
        raise DkimKeyError(f"invalid selector {selector!r}")
    return selector


def dns_record(key: DkimKey) -> DnsRecord:
    """The TXT record that publishes ``key``'s public half.

    RSA keys publish the DER SubjectPublicKeyInfo; Ed25519 keys the raw 32-octet public key
    (RFC 8463 section 4.2).
    """
    public = key.private_key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        der = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    else:
        der = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    p = base64.b64encode(der).decode("ascii")
    return DnsRecord(
        f"{key.selector}._domainkey.{key.domain}", f"v=DKIM1; k={key.algorithm}; p={p}"
    )


def _mkdir_private(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode is filtered by the umask, and an existing directory keeps its own.
    path.chmod(0o700)


def generate_key(
    dkim_dir: Path, domain: str, selector: str, algorithm: Algorithm = "rsa"
) -> DnsRecord:
    """Create a key for ``domain`` and ``selector`` and return the record to publish.

    Raises :class:`DkimKeyError` if the selector already has a key (of either algorithm).
    """
    domain = normalise_domain(domain)
    check_selector(selector)
    if algorithm not in ALGORITHMS:
        raise DkimKeyError(f"unknown algorithm {algorithm!r}")
    folder = dkim_dir / domain
    for other in ALGORITHMS:
        existing = folder / f"{selector}.{other}.pem"
        if existing.exists():
            raise DkimKeyError(f"{existing} exists; a selector holds one key, pick another")
    private: PrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        if algorithm == "rsa"
        else ed25519.Ed25519PrivateKey.generate()
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _mkdir_private(dkim_dir)
    _mkdir_private(folder)
    path = folder / f"{selector}.{algorithm}.pem"
    try:
        # O_EXCL: never overwrite, even if another process wrote the key meanwhile.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise DkimKeyError(f"{path} exists; a selector holds one key, pick another") from None
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return dns_record(DkimKey(domain, selector, algorithm, private, path))


def unreadable(dkim_dir: Path) -> list[Path]:
    """The domain folders and key files under ``dkim_dir`` this process cannot read.

    Their domains' mail goes out unsigned: typically a key made by root in the agent's
    folder, which the agent's own user may not open. ``load_keys`` skips them so one such
    folder does not stop signing for every other domain; whoever starts the agent reports them.
    """
    if not dkim_dir.is_dir():
        return []
    found = []
    for folder in sorted(p for p in dkim_dir.iterdir() if p.is_dir()):
        if not os.access(folder, os.R_OK | os.X_OK, effective_ids=True):
            found.append(folder)
            continue
        found.extend(
            p for p in sorted(folder.glob("*.pem")) if not os.access(p, os.R_OK, effective_ids=True)
        )
    return found


def unreadable_report(dkim_dir: Path) -> list[str]:
    """For each path :func:`unreadable` finds, a line saying what it costs and the fix."""
    me = user_name(os.geteuid())
    lines = []
    for path in unreadable(dkim_dir):
        domain = (path if path.is_dir() else path.parent).name
        lines.append(
            f"{path} belongs to {user_name(path.stat().st_uid)} and {me} cannot read it;"
            f" mail from {domain} goes out unsigned until you run: chown -R {me} {path}"
        )
    return lines


def load_keys(dkim_dir: Path) -> list[DkimKey]:
    """Every readable key under ``dkim_dir`` (none if it does not exist), sorted by path.

    Keys this process may not read are left out (see :func:`unreadable`); a key that is
    readable but malformed raises :class:`DkimKeyError`.
    """
    if not dkim_dir.is_dir():
        return []
    keys = []
    skipped = set(unreadable(dkim_dir))
    for path in sorted(dkim_dir.glob("*/*.pem")):
        if path in skipped:
            continue
        match = _KEY_FILE.fullmatch(path.name)
        if match is None:
            raise DkimKeyError(f"{path}: expected <selector>.<rsa|ed25519>.pem")
        algorithm: Algorithm = "rsa" if match["algorithm"] == "rsa" else "ed25519"
        try:
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise DkimKeyError(f"{path}: cannot load the key: {exc}") from None
        expected = rsa.RSAPrivateKey if algorithm == "rsa" else ed25519.Ed25519PrivateKey
        if not isinstance(private, expected):
            raise DkimKeyError(f"{path}: not an {algorithm} key")
        if isinstance(private, rsa.RSAPrivateKey) and private.key_size < 1024:
            raise DkimKeyError(f"{path}: RSA keys under 1024 bits are not accepted (RFC 8301)")
        keys.append(
            DkimKey(
                normalise_domain(path.parent.name),
                check_selector(match["selector"]),
                algorithm,
                private,
                path,
            )
        )
    return keys
