"""A fault switch for the tests of what a worker does with a poison message; off by default.

``MAILFLEET_TEST_FAULT="crash user7@example.com"`` makes a worker kill itself (SIGKILL, as a
crash in a C extension would) when it builds a message to that address; ``"crash-sending
ADDRESS"`` when it hands that message to its route; ``"raise ADDRESS"`` makes building it
raise an unexpected exception. Only tests set it: it is read once when a
worker starts, and without it building a message checks nothing more than a ``None``.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass

VARIABLE = "MAILFLEET_TEST_FAULT"


class InjectedFault(Exception):
    """The unexpected exception the ``raise`` fault stands for."""


@dataclass(frozen=True)
class Fault:
    """What to do to the worker building a message to ``address``."""

    kind: str  # "crash", "crash-sending" or "raise"
    address: str

    def strike(self, rcpt_to: str) -> None:
        """Crash or raise when building a message to ``rcpt_to``, the fault's address."""
        if rcpt_to != self.address or self.kind == "crash-sending":
            return
        if self.kind == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        raise InjectedFault(f"injected fault for {rcpt_to}")

    def strike_sending(self, recipients: Iterable[str]) -> None:
        """Crash when a message to the fault's address is handed to its route."""
        if self.kind == "crash-sending" and self.address in recipients:
            os.kill(os.getpid(), signal.SIGKILL)


def from_environment() -> Fault | None:
    """The fault the environment asks for, or None (always, outside the tests)."""
    kind, _, address = os.environ.get(VARIABLE, "").partition(" ")
    if kind in ("crash", "crash-sending", "raise") and address:
        return Fault(kind, address.strip())
    return None
