"""The DKIM keys the workers sign with, as the API reports them: loaded at start-up and again
whenever the API makes a key (the workers are replaced then, and load it too)."""

from __future__ import annotations

import logging
from pathlib import Path

from mailfleet.agent.dkim.keys import DkimKey, DkimKeyError, load_keys
from mailfleet.v1 import smtp_users_pb2

log = logging.getLogger(__name__)

_ALGORITHM = {"rsa": "rsa-sha256", "ed25519": "ed25519-sha256"}


class DkimState:
    """The loaded keys of ``dkim_dir`` (none without one), by domain."""

    def __init__(self, dkim_dir: Path | None) -> None:
        self.dkim_dir = dkim_dir
        self.keys: list[DkimKey] = []
        self.reload()

    def reload(self) -> None:
        """Read the keys from disk again."""
        if self.dkim_dir is None:
            return
        try:
            self.keys = load_keys(self.dkim_dir)
        except DkimKeyError as exc:  # the workers refuse to start with it too; say so
            log.error("DKIM keys: %s", exc)
            self.keys = []

    def status(self, domain: str) -> smtp_users_pb2.SendingDomainStatus:
        """Whether mail from ``domain`` is signed, and with which keys."""
        keys = [
            smtp_users_pb2.DkimKeyStatus(selector=k.selector, algorithm=_ALGORITHM[k.algorithm])
            for k in self.keys
            if k.domain == domain
        ]
        return smtp_users_pb2.SendingDomainStatus(domain=domain, signs=bool(keys), keys=keys)
