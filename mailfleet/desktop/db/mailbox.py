"""The key that makes two spellings of one mailbox one contact.

Mail servers treat the local part case-insensitively in practice, and a domain is the same
whether written in Unicode or in its IDNA ("xn--") form, so ``User@Exämple.com``,
``user@exämple.com`` and ``USER@xn--exmple-cua.com`` are one mailbox (listmonk and Mailchimp
compare addresses the same way). The contact keeps the address as first written, for display
and sending; the key only decides who is the same person.
"""

from __future__ import annotations

import contextlib

import idna


def mailbox_key(email: str) -> str:
    """The comparison key of an address: local part lower-cased, domain IDNA-encoded and
    lower-cased."""
    if email.isascii():  # nearly every address: no IDNA work to do
        return email.lower()
    local, _, domain = email.rpartition("@")
    if not domain.isascii():
        # Not a valid IDN: it is compared as written, which is still case-insensitive.
        with contextlib.suppress(idna.IDNAError):
            domain = idna.encode(domain, uts46=True).decode("ascii")
    return f"{local.lower()}@{domain.lower()}"
