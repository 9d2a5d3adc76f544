"""Fixtures of the DKIM tests: the local DNS answer source."""

from __future__ import annotations

from tests.peers.dns import local_dns

__all__ = ["local_dns"]
