"""Throw-away certificates for tests: self-signed ones (STARTTLS sinks, SNS signing) and a
certificate authority for tests that verify certificates (MTA-STS)."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import NameOID

# An extension of a certificate and whether it is critical.
Extension = tuple[x509.ExtensionType, bool]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    issuer: x509.Name,
    signer: CertificateIssuerPrivateKeyTypes,
    extensions: Sequence[Extension],
) -> x509.Certificate:
    # Valid from a little before now, so a clock a few seconds behind still accepts it.
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signer, hashes.SHA256())


def self_signed(
    key: CertificateIssuerPrivateKeyTypes, common_name: str, extensions: Sequence[Extension] = ()
) -> x509.Certificate:
    """A certificate of ``key`` for ``common_name``, signed by ``key`` itself, valid a day."""
    name = _name(common_name)
    return _certificate(name, key.public_key(), name, key, extensions)


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _write(
    cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, directory: Path, stem: str
) -> tuple[Path, Path]:
    cert_file, key_file = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def self_signed_server(directory: Path, stem: str, names: Sequence[str]) -> tuple[Path, Path]:
    """A self-signed server certificate for ``names`` (DNS names or IP addresses; the first is
    its common name), written as ``stem``.crt and ``stem``.key in ``directory``: (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([_san(n) for n in names])
    return _write(self_signed(key, names[0], [(san, False)]), key, directory, stem)


@dataclass
class LocalCa:
    """A CA whose certificate file clients trust; :meth:`issue` makes server certificates."""

    directory: Path
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def cert_file(self) -> Path:
        return self.directory / "ca.crt"

    @classmethod
    def create(cls, directory: Path) -> LocalCa:
        key = ec.generate_private_key(ec.SECP256R1())
        usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
        cert = self_signed(
            key,
            "Mailfleet Test CA",
            [
                (x509.BasicConstraints(ca=True, path_length=None), True),
                (usage, True),
                (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
            ],
        )
        ca = cls(directory, key, cert)
        ca.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return ca

    def issue(self, name: str) -> tuple[Path, Path]:
        """A server certificate for ``name`` (a DNS name or an IP address): (cert, key) files."""
        key = ec.generate_private_key(ec.SECP256R1())
        extensions: list[Extension] = [
            (x509.SubjectAlternativeName([_san(name)]), False),
            (x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False),
        ]
        cert = _certificate(_name(name), key.public_key(), self.cert.subject, self.key, extensions)
        return _write(cert, key, self.directory, name)
