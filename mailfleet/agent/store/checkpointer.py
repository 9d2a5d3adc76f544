"""Copies the write-ahead log back into the database on a thread of its own.

With SQLite's automatic checkpoints the writer thread itself stops every few thousand pages to
copy them; here a second connection does it (``PASSIVE``: it never blocks the writer or the
readers), so the writer keeps writing while the other core checkpoints.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger("mailfleet.agent.store")

_INTERVAL = 0.5


class Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` every half second until stopped."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-checkpointer", daemon=True)

    def start(self) -> None:
        """Start checkpointing (the store must exist and be in WAL mode)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current checkpoint."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(_INTERVAL):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as exc:  # busy or locked: the next round tries again
                    log.debug("checkpoint skipped: %s", exc)
        finally:
            conn.close()
