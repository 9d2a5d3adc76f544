"""One agent per data directory: an exclusive lock on ``agent.lock`` held for a process's life.

Two agents on one store would each take the other's leases back and send the same messages
again. ``serve`` holds the lock from before it opens the store until it exits; ``restore``
holds it while it replaces the store. The kernel drops a ``flock`` when its holder dies, even
by kill -9, so a crash never leaves a stale lock behind. The file holds the holder's PID, so
the refusal can name it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

if sys.platform != "win32":
    import fcntl

LOCK_FILE = "agent.lock"


class DataDirBusy(Exception):
    """Another process holds the data directory's lock."""

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        holder = f"pid {pid}" if pid else "another process"
        super().__init__(f"the data directory {data_dir} is in use by a running agent ({holder})")
        self.pid = pid


class DataDirLock:
    """The lock on one data directory; ``acquire`` takes it or raises :class:`DataDirBusy`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock at once (never wait for it) and write this process's PID into it."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Not truncated on open: the holder's PID must stay readable for the refusal.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if sys.platform != "win32":
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _read_pid(fd)
                os.close(fd)
                raise DataDirBusy(self.data_dir, pid) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Let the lock go (closing the file drops it); the file stays for the next holder."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DataDirLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(os.pread(fd, 32, 0).split()[0])
    return None
