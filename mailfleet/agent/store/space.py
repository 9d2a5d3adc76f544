"""The store's "disk full" state: entered when a write fails for lack of space, left when a
retried write succeeds.

The writer thread sets it; the layers above read it (the intake answers 452, the API
UNAVAILABLE, ``/healthz`` and ``/metrics`` report it). It is a state, not a failure: the agent
keeps serving what needs no space and recovers by itself once space is freed.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

import grpc

from mailfleet.agent.errors import AgentError

log = logging.getLogger("mailfleet.agent.store")

_SQLITE_FULL = 13
# The WAL index (-shm) could not grow: SQLite writes each new page of it before mapping it,
# so on a full disk this is the error rather than a SIGBUS.
_SQLITE_IOERR_SHMSIZE = 4874
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
# The state ends only with this much free (a twentieth of the file system, at most 64 MiB):
# the log's own slack lets small writes succeed on a full disk, and leaving on one of them
# would flap between full and not at every larger write.
_RESUME_SHARE = 20
_RESUME_MAX = 64 * 1024 * 1024


class DiskFull(AgentError, sqlite3.OperationalError):
    """A write the store refused because its disk is full; nothing of it was kept.

    Also an ``sqlite3.OperationalError``, so code that already treats a failed store write as
    a database error (and retries later) keeps doing so.
    """

    status = grpc.StatusCode.UNAVAILABLE

    def __init__(self) -> None:
        super().__init__("the agent's disk is full; try again once its operator has freed space")


def is_out_of_space(exc: BaseException) -> bool:
    """True when ``exc`` says the disk (or the user's quota) has no room left."""
    if isinstance(exc, DiskFull):
        return True
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return code is not None and (code & 0xFF == _SQLITE_FULL or code == _SQLITE_IOERR_SHMSIZE)
    return isinstance(exc, OSError) and exc.errno in _NO_SPACE


class SpaceState:
    """Whether the store's disk is full, where, and since when; safe to read from any thread."""

    def __init__(self, where: Path) -> None:
        self._where = where
        self._lock = threading.Lock()
        self._since: float | None = None
        self._held = 0

    @property
    def full(self) -> bool:
        """True while writes fail for lack of space."""
        return self._since is not None

    @property
    def where(self) -> Path:
        """The directory whose file system ran out of space."""
        return self._where

    @property
    def held(self) -> int:
        """Writes kept in memory until they can be committed."""
        return self._held

    def roomy(self) -> bool:
        """True when the file system has enough free space to leave the state."""
        try:
            st = os.statvfs(self._where)
        except OSError:
            return False
        wanted = min(_RESUME_MAX, st.f_blocks * st.f_frsize // _RESUME_SHARE)
        return st.f_bavail * st.f_frsize >= wanted

    def describe(self) -> str:
        """One line for an operator ("disk full at /var/lib/mailfleet"), or "" when not full."""
        return f"disk full at {self._where}" if self.full else ""

    def enter(self) -> None:
        """A write failed for lack of space (logged once, when the state begins)."""
        with self._lock:
            if self._since is not None:
                return
            self._since = time.monotonic()
        log.warning(
            "disk full at %s: new mail is refused and delivery results wait in memory"
            " until space is freed",
            self._where,
        )

    def leave(self) -> None:
        """A retried write committed: space is back (logged once, when the state ends)."""
        with self._lock:
            if self._since is None:
                return
            lasted = time.monotonic() - self._since
            self._since = None
        log.info("disk space is back at %s after %.0f s; writing again", self._where, lasted)

    def set_held(self, count: int) -> None:
        """Called by the writer when the writes it keeps for later change."""
        self._held = count
