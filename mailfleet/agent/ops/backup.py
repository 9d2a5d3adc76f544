"""``backup`` and ``restore``: the store and the agent's keys in one archive.

The store is copied with SQLite's online backup in a single read transaction, so the copy is
one consistent moment of a running agent (writers go on meanwhile; WAL readers never block
them). The archive also holds the TLS key and certificate, the kept admin key and secrets, and
the DKIM keys, so a restored agent keeps its pairing string; it is written with mode 0600.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mailfleet.agent.config import AgentSettings
from mailfleet.agent.store import integrity
from mailfleet.agent.store.db import open_and_migrate
from mailfleet.agent.store.integrity import StoreSummary
from mailfleet.agent.store.lock import DataDirBusy, DataDirLock

_STORE = "agent.db"
# Folders of the data directory that hold keys; the store's WAL files are never copied.
_KEY_DIRS = ("tls", "secrets", "dkim")


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why and changes nothing."""


@dataclass(frozen=True)
class BackupSummary:
    """What went into (or came out of) an archive."""

    path: Path
    schema_version: int
    messages: int
    events: int
    files: int


def _check_store(path: Path) -> StoreSummary:
    try:
        return integrity.check(path)
    except integrity.DamagedStore as exc:
        raise BackupError(str(exc)) from None


def backup(settings: AgentSettings, target: Path, *, overwrite: bool = False) -> BackupSummary:
    """Write a ``.tar.gz`` of the store (copied online) and the key folders to ``target``."""
    if not settings.db_path.exists():
        raise BackupError(f"no store at {settings.db_path}; is the config the agent's?")
    if target.exists() and not overwrite:
        raise BackupError(f"{target} exists; choose another name or pass --force")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".mailfleet-backup-") as tmp:
        snapshot = Path(tmp) / _STORE
        integrity.copy_online(settings.db_path, snapshot)
        found = _check_store(snapshot)
        partial = Path(tmp) / "archive.tar.gz"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        files = 1
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            tar.add(snapshot, arcname=_STORE)
            for name in _KEY_DIRS:
                folder = settings.data_dir / name
                if folder.is_dir():
                    tar.add(folder, arcname=name)
                    files += sum(1 for p in folder.rglob("*") if p.is_file())
        os.replace(partial, target)
    return BackupSummary(target, found.schema_version, found.messages, found.events, files)


def _private_tree(path: Path) -> None:
    for p in [path, *path.rglob("*")]:
        os.chmod(p, 0o700 if p.is_dir() else 0o600)


def restore(settings: AgentSettings, archive: Path, *, overwrite: bool = False) -> BackupSummary:
    """Put an archive's store and keys into the (stopped) agent's data directory.

    It holds the data directory's lock throughout: refused while an agent runs there, and no
    agent can start on a half-restored store."""
    lock = DataDirLock(settings.data_dir)
    try:
        lock.acquire()
    except DataDirBusy as exc:
        raise BackupError(f"{exc}; stop it first (systemctl stop mailfleet-agent)") from None
    try:
        return _restore(settings, archive, overwrite=overwrite)
    finally:
        lock.release()


def _restore(settings: AgentSettings, archive: Path, *, overwrite: bool) -> BackupSummary:
    if settings.db_path.exists() and not overwrite:
        raise BackupError(f"{settings.db_path} exists; pass --force to replace it")
    data = settings.data_dir
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data, prefix=".restore-") as tmp:
        staging = Path(tmp)
        try:
            with tarfile.open(archive, "r:gz") as tar:
                wanted = [
                    m for m in tar.getmembers() if m.name.split("/", 1)[0] in (_STORE, *_KEY_DIRS)
                ]
                tar.extractall(staging, members=wanted, filter="data")
        except (OSError, tarfile.TarError) as exc:
            raise BackupError(f"cannot read {archive}: {exc}") from None
        if not (staging / _STORE).is_file():
            raise BackupError(f"{archive} holds no {_STORE}; is it a Mailfleet backup?")
        _check_store(staging / _STORE)
        _private_tree(staging)
        for suffix in ("-wal", "-shm"):
            Path(f"{settings.db_path}{suffix}").unlink(missing_ok=True)
        os.replace(staging / _STORE, settings.db_path)
        files = 1
        for name in _KEY_DIRS:
            if (staging / name).is_dir():
                shutil.rmtree(data / name, ignore_errors=True)
                os.replace(staging / name, data / name)
                files += sum(1 for p in (data / name).rglob("*") if p.is_file())
    open_and_migrate(settings.db_path).close()  # a backup from an older agent is brought up to date
    found = _check_store(settings.db_path)
    return BackupSummary(archive, found.schema_version, found.messages, found.events, files)
