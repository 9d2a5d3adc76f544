"""A fault switch for the tests of what a worker does with a poison message; off by default.

``MAILFLEET_TEST_FAULT="crash user7@example.com"`` makes a worker kill itself (SIGKILL, as a
crash in a C extension would) when it builds a message to that address; ``"raise ADDRESS"``
makes building it raise an unexpected exception. Only tests set it: it is read once when a
worker starts, and without it building a message checks nothing more than a ``None``.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

VARIABLE = "MAILFLEET_TEST_FAULT"


class InjectedFault(Exception):
    """The unexpected exception the ``raise`` fault stands for."""


@dataclass(frozen=True)
class Fault:
    """What to do to the worker building a message to ``address``."""

    kind: str  # "crash" or "raise"
    address: str

    def strike(self, rcpt_to: str) -> None:
        """Crash or raise when ``rcpt_to`` is the fault's address."""
        if rcpt_to != self.address:
            return
        if self.kind == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        raise InjectedFault(f"injected fault for {rcpt_to}")


def from_environment() -> Fault | None:
    """The fault the environment asks for, or None (always, outside the tests)."""
    kind, _, address = os.environ.get(VARIABLE, "").partition(" ")
    if kind in ("crash", "raise") and address:
        return Fault(kind, address.strip())
    return None
