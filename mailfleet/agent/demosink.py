"""A counting SMTP sink on 127.0.0.1 for ``make demo``: it keeps nothing but the tally."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from aiosmtpd.controller import Controller


class _Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.per_recipient: Counter[str] = Counter()
        self.signed = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.per_recipient.update(envelope.rcpt_tos)
            if envelope.content.startswith(b"DKIM-Signature:"):
                self.signed += 1
        return "250 2.0.0 Ok: counted"


class CountingSink:
    """Accepts every message and counts it per recipient."""

    def __init__(self, port: int) -> None:
        self._handler = _Counter()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=port)
        self.port = port

    def start(self) -> None:
        """Listen in a background thread."""
        self._controller.start()

    def stop(self) -> None:
        """Stop listening."""
        self._controller.stop()

    def tally(self) -> tuple[Counter[str], int]:
        """Messages per recipient, and how many of them carried a DKIM signature."""
        with self._handler.lock:
            return Counter(self._handler.per_recipient), self._handler.signed
