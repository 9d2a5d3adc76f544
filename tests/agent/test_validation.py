"""Address and field checks (pure)."""

from __future__ import annotations

import pytest

from mailfleet.agent.validation import (
    AddressProblem,
    address_problem,
    is_field_name,
    is_header_name,
    normalize_address,
)


@pytest.mark.parametrize(
    ("address", "normalized"),
    [
        ("user@example.com", "user@example.com"),
        ("First.Last+tag@Example.COM", "First.Last+tag@example.com"),
        ("o'brien@sub.domain.example.org", "o'brien@sub.domain.example.org"),
        ("x@xn--bcher-kva.example", "x@xn--bcher-kva.example"),
        ("jörg@bücher.example", "jörg@bücher.example"),
    ],
)
def test_valid_addresses_are_normalized_by_domain_case(address: str, normalized: str) -> None:
    assert normalize_address(address) == normalized


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("", AddressProblem.SYNTAX),
        ("plainaddress", AddressProblem.SYNTAX),
        ("a@b", AddressProblem.SYNTAX),
        ("two@@example.com", AddressProblem.SYNTAX),
        (".dot@example.com", AddressProblem.SYNTAX),
        ("dot.@example.com", AddressProblem.SYNTAX),
        ("a..b@example.com", AddressProblem.SYNTAX),
        ("space in@example.com", AddressProblem.SYNTAX),
        ("x" * 65 + "@example.com", AddressProblem.SYNTAX),
        ("a@" + "b" * 250 + ".com", AddressProblem.SYNTAX),
        ("a@-bad.example.com", AddressProblem.SYNTAX),
        ("victim@example.com\r\nBcc: all@example.com", AddressProblem.HEADER_UNSAFE),
        ("a@example.com\n", AddressProblem.HEADER_UNSAFE),
        ("nul\x00@example.com", AddressProblem.HEADER_UNSAFE),
        ("ünï\r@bücher.example", AddressProblem.HEADER_UNSAFE),
    ],
)
def test_invalid_addresses_are_refused_with_their_reason(
    address: str, problem: AddressProblem
) -> None:
    assert normalize_address(address) is None
    assert address_problem(address) is problem


def test_field_and_header_names() -> None:
    assert is_field_name("first_name")
    assert not is_field_name("first name")
    assert not is_field_name("email")  # reserved: the recipient's own address
    assert is_header_name("X-Campaign")
    assert not is_header_name("From")
    assert not is_header_name("X-Bad Name")
