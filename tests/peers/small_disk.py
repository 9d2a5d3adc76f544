"""A small file system of its own (tmpfs) for a data directory, that a test fills and frees.

Mounting needs root (CI runs as root); elsewhere :func:`require_root` skips the test and
says why. The test unmounts it in its teardown (``with SmallDisk(...)``)::

    with SmallDisk(tmp_path / "agent", mib=16) as disk:
        ...start an agent whose data directory is disk.path...
        disk.fill()      # a filler file takes every free byte (or all but ``leave``)
        disk.free()      # and goes again
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path
from types import TracebackType

import pytest

_CHUNK = 1 << 16


def require_root() -> None:
    """Skip the calling test unless it may mount file systems."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for a full disk needs root (CI runs as root)")


class SmallDisk:
    """A tmpfs of ``mib`` MiB mounted at ``path`` (created if missing)."""

    def __init__(self, path: Path, mib: int) -> None:
        self.path = path
        self.mib = mib
        self._filler = path / "filler"

    def __enter__(self) -> SmallDisk:
        require_root()
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.mib}m,mode=0700", "tmpfs", str(self.path)],
            check=True,
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Lazy: a process that still has a file open there must not fail the teardown.
        subprocess.run(["umount", "--lazy", str(self.path)], check=True)

    def free_bytes(self) -> int:
        """Bytes an unprivileged writer could still use."""
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def fill(self, leave: int = 0) -> None:
        """Write a filler file until the file system has no byte left, or only about
        ``leave`` bytes (room for small writes, not for a large one)."""
        zeros = bytes(_CHUNK)
        with self._filler.open("ab", buffering=0) as f:
            if leave:
                f.write(bytes(max(0, self.free_bytes() - leave)))
                return
            for size in (_CHUNK, 4096, 512, 1):
                try:
                    while True:
                        f.write(zeros[:size])
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise

    def free(self) -> None:
        """Remove the filler: the space is back."""
        self._filler.unlink()
