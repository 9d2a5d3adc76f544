"""A gRPC channel to one agent, its certificate pinned to the pairing's fingerprint.

The agent's certificate is self-signed: trust comes from the SHA-256 fingerprint in the pairing
string, checked on every connection, never from a CA. Every call carries the pairing's API key.
"""

from __future__ import annotations

import socket
import ssl

import grpc

from mailfleet.agent.identity.pairing import Pairing
from mailfleet.agent.identity.tls import TLS_NAME, fingerprint_pem

_MIB = 1024 * 1024


class FingerprintMismatch(Exception):
    """The agent presented a certificate other than the one pinned in the pairing string."""


def fetch_pinned_certificate(pairing: Pairing, timeout: float = 10.0) -> bytes:
    """The agent's certificate (PEM), after checking it against the pinned fingerprint."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Trust comes from the pinned fingerprint below, not from a CA.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    with (
        socket.create_connection((pairing.host, pairing.port), timeout=timeout) as raw,
        ctx.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    if der is None:
        raise FingerprintMismatch("the agent presented no certificate")
    pem = ssl.DER_cert_to_PEM_cert(der).encode()
    found = fingerprint_pem(pem)
    if found != pairing.fingerprint:
        raise FingerprintMismatch(
            f"the agent at {pairing.target} presented certificate sha256:{found}, "
            f"not the paired sha256:{pairing.fingerprint}; refusing to connect"
        )
    return pem


def _credentials(pairing: Pairing, cert_pem: bytes) -> grpc.ChannelCredentials:
    return grpc.composite_channel_credentials(
        grpc.ssl_channel_credentials(root_certificates=cert_pem),
        grpc.access_token_call_credentials(pairing.api_key),
    )


def _options(max_receive_mib: int) -> list[tuple[str, str | int]]:
    return [
        ("grpc.ssl_target_name_override", TLS_NAME),
        ("grpc.default_authority", TLS_NAME),
        ("grpc.max_receive_message_length", max_receive_mib * _MIB),
    ]


def aio_channel(pairing: Pairing, max_receive_mib: int = 64) -> grpc.aio.Channel:
    """An asyncio channel to the agent; every call carries the pairing's API key."""
    cert = fetch_pinned_certificate(pairing)
    return grpc.aio.secure_channel(
        pairing.target, _credentials(pairing, cert), options=_options(max_receive_mib)
    )


def channel(pairing: Pairing, max_receive_mib: int = 64) -> grpc.Channel:
    """A blocking channel to the agent; every call carries the pairing's API key."""
    cert = fetch_pinned_certificate(pairing)
    return grpc.secure_channel(
        pairing.target, _credentials(pairing, cert), options=_options(max_receive_mib)
    )
