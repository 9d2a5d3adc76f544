"""Address checks: the fast path never accepts what email-validator refuses."""

from __future__ import annotations

import random

import pytest
from email_validator import EmailNotValidError, validate_email

from mailfleet.desktop.services.emails import _fast, check_address

HOSTILE = [
    "a@b.co", "A@Example.COM", "a..b@x.com", ".a@x.com", "a.@x.com", "a@-x.com", "a@x-.com",
    "a@x..com", "a@x.com.", "a@1.2.3.4", "a@x.123", "a@xn--bcher-kva.ch", "a@localhost",
    "a@foo.test", "a@x.local", "a@x.invalid", "a@b.onion", "a@sub.arpa", "a@x.c0m", "a@x.c-m",
    "a_b@x.com", "a@x_y.com", "a@ab--cd.com", "a+tag@x.io", "o'brien@x.ie", "a@b",
    "x" * 64 + "@x.com", "x" * 65 + "@x.com", "a@" + "x" * 63 + ".com", "a@" + "x" * 64 + ".com",
    "a@" + ".".join(["abcdefghi"] * 30) + ".com", "{a}|b~@x.com", "a@x.comm", "a@x.c",
]  # fmt: skip


def _library_accepts(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


@pytest.mark.parametrize("address", HOSTILE)
def test_fast_path_agrees_with_the_library(address: str) -> None:
    if _fast(address) is not None:
        assert _library_accepts(address)
    assert (check_address(address).email is not None) == _library_accepts(address)


def test_fast_path_agrees_on_random_addresses() -> None:
    rng = random.Random(7)
    alphabet = "ab.-_+@1Z"
    for _ in range(3000):
        address = "".join(rng.choice(alphabet) for _ in range(rng.randint(3, 14)))
        if _fast(address) is not None:
            assert _library_accepts(address), address


@pytest.mark.parametrize(
    "address", ["a@x.com\r\nBcc: victim@y.com", "a\n@x.com", "a@x.com\x00", "a\x1b@x.com"]
)
def test_header_unsafe_addresses_are_refused(address: str) -> None:
    checked = check_address(address)
    assert checked.email is None
    assert checked.error is not None and "control character" in checked.error


def test_domain_is_lower_cased_and_local_part_kept() -> None:
    assert check_address(" John.Doe@Example.COM ").email == "John.Doe@example.com"
    assert check_address("Ünï@BÜCHER.ch").email == "Ünï@bücher.ch"
