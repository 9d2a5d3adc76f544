"""Files that commands write into the agent's data directory belong to the agent's user.

Run as root, ``dkim generate`` or ``smtp-user add`` would leave root-owned files behind that
the agent's own user may not read: a key folder of mode 0700 makes its domain's mail go out
unsigned. So a command run by root hands what it wrote back to the data directory's owner,
and any other user who does not own the data directory is refused before it writes anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mailfleet.agent.errors import ConfigError
from mailfleet.agent.identity.accounts import user_name


@dataclass(frozen=True)
class DataDirOwner:
    """The user and group that own a data directory, for a command run by root."""

    data_dir: Path
    uid: int
    gid: int

    @property
    def name(self) -> str:
        """The owner's account name (its number when it has none)."""
        return user_name(self.uid)

    def hand_back(self, *roots: Path) -> int:
        """Give every file and folder under ``roots`` that is not the owner's to the owner.

        Returns how many changed hands. Missing roots are skipped.
        """
        changed = 0
        for root in roots:
            for path in _walk(root):
                if path.lstat().st_uid != self.uid:
                    os.chown(path, self.uid, self.gid, follow_symlinks=False)
                    changed += 1
        return changed


def writer_check(data_dir: Path, command: str) -> DataDirOwner | None:
    """Who must own what ``command`` writes under ``data_dir``, checked before it writes.

    None when the caller owns the data directory (or it does not exist yet). Root gets
    the owner to hand files back to; any other user is refused with a :class:`ConfigError`
    naming the command to run.
    """
    try:
        stat = data_dir.stat()
    except FileNotFoundError:  # the command creates it: its files are the caller's own
        return None
    except PermissionError:
        raise ConfigError(
            f"cannot reach {data_dir}: run this as the user who owns it, or as root"
        ) from None
    me = os.geteuid()
    if me == stat.st_uid:
        return None
    owner = DataDirOwner(data_dir, stat.st_uid, stat.st_gid)
    if me != 0:
        raise ConfigError(
            f"{data_dir} belongs to {owner.name}: run this as that user"
            f" (sudo -u {owner.name} mailfleet-agent {command} …) or as root"
        )
    return owner


def _walk(root: Path) -> list[Path]:
    if not root.exists() and not root.is_symlink():
        return []
    found = [root]
    if root.is_dir() and not root.is_symlink():
        for folder, dirs, files in os.walk(root):
            found.extend(Path(folder, name) for name in (*dirs, *files))
    return found
