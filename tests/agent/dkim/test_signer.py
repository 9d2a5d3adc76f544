"""Signatures checked by independent verifiers that fetch the keys from the local DNS.

RSA: Perl's Mail::DKIM (Debian's libmail-dkim-perl). Debian 12's Mail::DKIM has no
ed25519-sha256 yet (it answers "unsupported algorithm"), so Ed25519 signatures are checked
with dkimpy's verifier, which verifies them through PyNaCl, not the ``cryptography`` code
that signs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import dkim
import dns.resolver
import pytest
from dkim.canonicalization import Relaxed
from dkim.util import parse_tag_value

from mailfleet.agent.dkim.keys import Algorithm, generate_key, load_keys
from mailfleet.agent.dkim.signer import (
    DkimSigner,
    SignError,
    _canonical_body,
    _parse,
    relaxed_header,
    signed_header_input,
)
from mailfleet.agent.model import Content, Sender
from mailfleet.agent.render.message import Renderer
from tests.peers.dkimverify import mail_dkim
from tests.peers.dns import LocalDns


@pytest.fixture
def signer(tmp_path: Path, local_dns: LocalDns) -> DkimSigner:
    """RSA (selector "r") and Ed25519 (selector "e") keys for shop.example, published."""
    keys: tuple[tuple[str, Algorithm], ...] = (("r", "rsa"), ("e", "ed25519"))
    for selector, algorithm in keys:
        record = generate_key(tmp_path / "dkim", "shop.example", selector, algorithm)
        local_dns.add_txt(record.name, record.value)
    return DkimSigner(load_keys(tmp_path / "dkim"))


def dkimpy_results(message: bytes, local: LocalDns) -> list[bool]:
    """dkimpy's verdict on each signature, keys fetched from the local DNS."""
    resolver = _resolver(local)

    def txt(name: bytes, timeout: int = 5) -> bytes:
        answer = resolver.resolve(name.decode().rstrip("."), "TXT")
        return b"".join(b"".join(r.strings) for r in answer)

    verifier = dkim.DKIM(message)
    count = sum(1 for name, _ in verifier.headers if name.lower() == b"dkim-signature")
    results = []
    for i in range(count):
        try:
            results.append(bool(verifier.verify(idx=i, dnsfunc=txt)))
        except dkim.ValidationError:
            # dkimpy raises, rather than returns False, on a body hash mismatch.
            results.append(False)
    return results


def _resolver(local: LocalDns) -> dns.resolver.Resolver:
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = local.port
    res.lifetime = 5.0
    return res


def rendered(extra_headers: dict[str, str] | None = None) -> bytes:
    """A realistic message from shop.example, as the worker renders it."""
    renderer = Renderer("mx.shop.example", timeout_seconds=5.0, max_bytes=1_000_000)
    content = Content(
        subject="Grüße, {{ name }}: {{ plan }} news",
        html="<html>\n  <body>\n    <p>Dear {{ name }},\t\tyour   plan </p>\n  </body>\n</html>",
        text="Dear {{ name }},  your plan   is {{ plan }}.  \n\n\n",
    )
    return renderer.render(
        message_id=1,
        sender=Sender("news@Shop.Example", "Shöp"),
        content=content,
        to_email="ann@example.com",
        to_name="Ann",
        fields={"plan": "gold"},
        extra_headers=extra_headers or {},
    )


def signature_tags(message: bytes) -> list[dict[bytes, bytes]]:
    """The tags of each DKIM-Signature, top first."""
    headers, _ = dkim.rfc822_parse(message)
    return [
        parse_tag_value(value.replace(b"\r\n", b""))
        for name, value in headers
        if name.lower() == b"dkim-signature"
    ]


def test_rsa_passes_mail_dkim_and_ed25519_passes_dkimpy(
    signer: DkimSigner, local_dns: LocalDns, tmp_path: Path
) -> None:
    signed = signer.sign(rendered())
    results = mail_dkim(signed, local_dns, tmp_path)
    assert results["rsa-sha256"] == "pass"
    # Documents why Ed25519 is checked by dkimpy: this Mail::DKIM cannot.
    assert results["ed25519-sha256"].startswith(("pass", "invalid (unsupported algorithm"))
    assert [t[b"a"] for t in signature_tags(signed)] == [b"rsa-sha256", b"ed25519-sha256"]
    assert dkimpy_results(signed, local_dns) == [True, True]


def test_signature_tags_and_signed_fields(signer: DkimSigner) -> None:
    extra = {"List-Unsubscribe": "<https://shop.example/u/1>"}
    for tags in signature_tags(signer.sign(rendered(extra))):
        assert tags[b"v"] == b"1"
        assert tags[b"c"] == b"relaxed/relaxed"
        assert tags[b"d"] == b"shop.example"
        assert tags[b"h"].replace(b" ", b"").split(b":") == [
            b"from",
            b"from",
            b"to",
            b"subject",
            b"date",
            b"message-id",
            b"mime-version",
            b"content-type",
            b"list-unsubscribe",
            b"list-unsubscribe",
            b"list-unsubscribe-post",
            b"cfbl-address",
            b"cfbl-feedback-id",
        ]
        assert int(tags[b"t"]) > 0


def test_signed_list_unsubscribe_pair_passes_mail_dkim(
    signer: DkimSigner, local_dns: LocalDns, tmp_path: Path
) -> None:
    extra = {
        "List-Unsubscribe": "<https://shop.example/u/{{ email }}>, <mailto:u@shop.example>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    signed = signer.sign(rendered(extra))
    assert mail_dkim(signed, local_dns, tmp_path)["rsa-sha256"] == "pass"
    assert dkimpy_results(signed, local_dns) == [True, True]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda m: m.replace(b"Dear Ann", b"Dear Bob"),
        lambda m: m.replace(b"Subject: ", b"Subject: RE: "),
        lambda m: m.replace(b"From: ", b"From: Evil <evil@x.example>\r\nFrom: ", 1),
        lambda m: m.replace(b"MIME-Version", b"List-Unsubscribe: <https://evil/>\r\nMIME-Version"),
    ],
    ids=["body", "subject", "added From", "added List-Unsubscribe"],
)
def test_tampered_messages_fail(
    signer: DkimSigner, local_dns: LocalDns, tmp_path: Path, tamper: Callable[[bytes], bytes]
) -> None:
    signed = signer.sign(rendered())
    altered = tamper(signed)
    assert altered != signed
    assert mail_dkim(altered, local_dns, tmp_path)["rsa-sha256"].startswith("fail")
    assert dkimpy_results(altered, local_dns) == [False, False]


def test_relaxed_canonicalisation_tolerates_whitespace_changes_in_transit(
    signer: DkimSigner, local_dns: LocalDns, tmp_path: Path
) -> None:
    signed = signer.sign(rendered())
    refolded = signed.replace(b"Subject: ", b"Subject:   ").replace(b"Dear Ann,", b"Dear  Ann,")
    assert refolded != signed
    assert mail_dkim(refolded, local_dns, tmp_path)["rsa-sha256"] == "pass"


def test_a_domain_without_keys_is_left_alone(signer: DkimSigner) -> None:
    message = b"From: a@other.example\r\nTo: b@example.com\r\nSubject: s\r\n\r\nbody\r\n"
    assert signer.sign(message) is message
    assert signer.sign(b"To: b@example.com\r\n\r\nno From\r\n") == (
        b"To: b@example.com\r\n\r\nno From\r\n"
    )
    assert signer.domains == frozenset({"shop.example"})


def test_a_header_section_that_does_not_parse_is_a_sign_error(signer: DkimSigner) -> None:
    with pytest.raises(SignError, match="cannot DKIM-sign"):
        signer.sign(b"From: news@shop.example\r\nno colon here\r\n\r\nbody\r\n")


def test_bare_lf_messages_are_signed_as_dkimpy_reads_them(
    signer: DkimSigner, local_dns: LocalDns
) -> None:
    message = b"From: news@shop.example\nTo: b@example.com\nSubject: s\n\nline one  \nline two\n"
    assert dkimpy_results(signer.sign(message), local_dns) == [True, True]


def test_rendered_headers_split_as_dkimpy_splits_them() -> None:
    folded = rendered({"X-Campaign": "spring " * 30, "X-Note": "Grüße aus Köln " * 8})
    assert b"\r\n " in folded.partition(b"\r\n\r\n")[0]  # continuation lines to join
    for message in (rendered(), folded):
        assert _parse(message, crlf=True) == dkim.rfc822_parse(message)


def test_fast_body_canonicalisation_matches_dkimpy() -> None:
    rng = random.Random(8463)
    pieces = [b" ", b"  ", b"\t", b" \t ", b"\r\n", b"\r\n\r\n", b"a", b"word", b"=20", b"\r"]
    bodies = [b"", b"\r\n", b"\r\n\r\n", b"x", b"x \r\n \r\n", b"\t\r\n"]
    bodies += [b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 60))) for _ in range(3000)]
    for body in bodies:
        assert _canonical_body(body) == Relaxed.canonicalize_body(body), body


class _Recorder:
    """A stand-in hasher that keeps what dkimpy feeds it."""

    def __init__(self) -> None:
        self.data = b""

    def update(self, data: bytes) -> None:
        self.data += data


def test_fast_header_hash_input_matches_dkimpy() -> None:
    rng = random.Random(6376)
    names = [b"From", b"from", b"To", b"Subject", b"X-A", b"List-Unsubscribe"]
    pieces = [b" ", b"  ", b"\t", b"\r\n ", b"\r\n\t", b"\n ", b"a", b"b c", b"\r", b"=?x?="]
    signature = (b"DKIM-Signature", b" v=1; a=rsa-sha256; h=from : to;\r\n b=AbC+/0\r\n dE=")
    for _ in range(2000):
        headers = [
            [rng.choice(names), b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))]
            for _ in range(rng.randint(1, 8))
        ]
        include = [rng.choice(names).lower() for _ in range(rng.randint(1, 8))]
        recorder = _Recorder()
        canonical = Relaxed.canonicalize_headers(headers)
        dkim.hash_headers(recorder, Relaxed, canonical, include, signature, None)
        name, blanked = relaxed_header(*signature)
        ours = signed_header_input(headers, include) + name + b":" + blanked
        assert ours.replace(b"b=AbC+/0 dE=", b"b=") == recorder.data, headers
