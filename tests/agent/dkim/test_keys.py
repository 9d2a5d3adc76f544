"""DKIM keys on disk and their DNS records."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailfleet.agent.dkim.keys import DkimKeyError, dns_record, generate_key, load_keys


def mode(path: Path) -> int:
    """Permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)


def test_rsa_key_file_modes_and_record(tmp_path: Path) -> None:
    dkim_dir = tmp_path / "data" / "dkim"
    record = generate_key(dkim_dir, "Shop.Example.", "s2026", "rsa")
    path = dkim_dir / "shop.example" / "s2026.rsa.pem"
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert mode(dkim_dir) == 0o700
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert record.name == "s2026._domainkey.shop.example"
    prefix = "v=DKIM1; k=rsa; p="
    assert record.value.startswith(prefix)
    public = serialization.load_der_public_key(base64.b64decode(record.value[len(prefix) :]))
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 2048
    assert record.zone_line() == f's2026._domainkey.shop.example  "{record.value}"'


def test_ed25519_record_is_the_raw_public_key(tmp_path: Path) -> None:
    record = generate_key(tmp_path, "shop.example", "ed", "ed25519")
    (key,) = load_keys(tmp_path)
    assert isinstance(key.private_key, ed25519.Ed25519PrivateKey)
    raw = key.private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert len(raw) == 32
    assert record.value == "v=DKIM1; k=ed25519; p=" + base64.b64encode(raw).decode()
    assert dns_record(key) == record


def test_load_finds_every_key(tmp_path: Path) -> None:
    generate_key(tmp_path, "b.example", "s1", "rsa")
    generate_key(tmp_path, "b.example", "s2", "ed25519")
    generate_key(tmp_path, "a.example", "s1", "ed25519")
    keys = load_keys(tmp_path)
    assert [(k.domain, k.selector, k.algorithm) for k in keys] == [
        ("a.example", "s1", "ed25519"),
        ("b.example", "s1", "rsa"),
        ("b.example", "s2", "ed25519"),
    ]
    assert load_keys(tmp_path / "missing") == []


def test_never_overwrites_and_one_key_per_selector(tmp_path: Path) -> None:
    generate_key(tmp_path, "shop.example", "s1", "rsa")
    before = (tmp_path / "shop.example" / "s1.rsa.pem").read_bytes()
    for algorithm in ("rsa", "ed25519"):
        with pytest.raises(DkimKeyError, match="exists"):
            generate_key(tmp_path, "shop.example", "s1", algorithm)
    assert (tmp_path / "shop.example" / "s1.rsa.pem").read_bytes() == before
    assert not (tmp_path / "shop.example" / "s1.ed25519.pem").exists()


@pytest.mark.parametrize(
    ("domain", "selector"),
    [("../etc", "s"), ("shop.example", "../x"), ("shop.example", "a/b"), ("", "s"), ("x", "")],
)
def test_names_that_are_not_dns_names_are_refused(
    tmp_path: Path, domain: str, selector: str
) -> None:
    with pytest.raises(DkimKeyError, match="invalid"):
        generate_key(tmp_path, domain, selector, "ed25519")
    assert list(tmp_path.iterdir()) == []


def test_idn_domains_are_filed_in_punycode(tmp_path: Path) -> None:
    record = generate_key(tmp_path, "bücher.example", "s", "ed25519")
    assert record.name == "s._domainkey.xn--bcher-kva.example"
    assert [k.domain for k in load_keys(tmp_path)] == ["xn--bcher-kva.example"]


def test_bad_files_are_reported_with_their_path(tmp_path: Path) -> None:
    folder = tmp_path / "shop.example"
    folder.mkdir()
    (folder / "notes.pem").write_text("x")
    with pytest.raises(DkimKeyError, match=r"notes\.pem"):
        load_keys(tmp_path)
    (folder / "notes.pem").unlink()
    (folder / "s.rsa.pem").write_text("not a key")
    with pytest.raises(DkimKeyError, match=r"s\.rsa\.pem: cannot load"):
        load_keys(tmp_path)
    (folder / "s.rsa.pem").unlink()
    generate_key(tmp_path, "other.example", "s", "ed25519")
    (tmp_path / "other.example" / "s.ed25519.pem").rename(folder / "s.rsa.pem")
    with pytest.raises(DkimKeyError, match="not an rsa key"):
        load_keys(tmp_path)
