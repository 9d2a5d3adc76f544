"""``mailfleet-agent init``: a data directory with keys, a default tenant and a config file.

Safe to run again: nothing that exists is overwritten, and the same pairing string is printed.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from mailfleet.agent.config import CONFIG_TEMPLATE, AgentSettings, load
from mailfleet.agent.errors import ConfigError
from mailfleet.agent.identity import keys
from mailfleet.agent.identity.pairing import Pairing
from mailfleet.agent.identity.scopes import Scope
from mailfleet.agent.identity.tls import create_self_signed, fingerprint_pem, write_private
from mailfleet.agent.store import tenants
from mailfleet.agent.store.db import write_once
from mailfleet.agent.store.tenants import KeySpec
from mailfleet.agent.validation import split_host_port

DEFAULT_TENANT = "default"
DEFAULT_LISTEN = "127.0.0.1:8470"
DEFAULT_HTTP_LISTEN = "127.0.0.1:8480"


@dataclass(frozen=True)
class InitResult:
    """What ``init`` made or found."""

    config_path: Path
    settings: AgentSettings
    pairing: Pairing
    created: bool


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def pairing_for(settings: AgentSettings) -> Pairing:
    """The pairing string of an initialised agent (needs its kept admin key)."""
    host, port = split_host_port(settings.grpc.listen)
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - listening everywhere: name the machine
        host = socket.getfqdn()
    return Pairing(
        host=host,
        port=port,
        fingerprint=fingerprint_pem(settings.tls_cert.read_bytes()),
        api_key=settings.admin_key_file.read_text(encoding="utf-8").strip(),
    )


def init(
    data_dir: Path,
    listen: str | None,
    http_listen: str | None = None,
    config_path: Path | None = None,
) -> InitResult:
    """Create whatever is missing of the agent's data directory.

    The config file goes in the data directory unless ``config_path`` names another place
    (``/etc/mailfleet/agent.toml`` for an installed agent).
    """
    data_dir = data_dir.resolve()
    _private_dir(data_dir)
    data_dir_entry = "." if config_path is None else str(data_dir)
    config_path = data_dir / "agent.toml" if config_path is None else config_path.resolve()
    created = False
    if not config_path.exists():
        config_path.write_text(
            CONFIG_TEMPLATE.format(
                data_dir=data_dir_entry,
                listen=listen or DEFAULT_LISTEN,
                http_listen=http_listen or DEFAULT_HTTP_LISTEN,
            ),
            encoding="utf-8",
        )
        created = True
    settings = load(config_path)
    _private_dir(settings.tls_key.parent)
    _private_dir(settings.admin_key_file.parent)
    if not settings.tls_key.exists():
        host, _ = split_host_port(settings.grpc.listen)
        create_self_signed(settings.tls_key, settings.tls_cert, [host, socket.getfqdn()])
        created = True

    def first_tenant(conn: sqlite3.Connection) -> bool:
        tenant = tenants.find_tenant(conn, DEFAULT_TENANT) or tenants.create_tenant(
            conn, DEFAULT_TENANT
        )
        if settings.admin_key_file.exists():
            return False
        new = keys.mint()
        tenants.create_key(conn, tenant.id, KeySpec("initial admin key", Scope.ADMIN), new)
        write_private(settings.admin_key_file, (new.full_key + "\n").encode())
        return True

    created = write_once(settings.db_path, first_tenant) or created
    os.chmod(settings.db_path, 0o600)
    return InitResult(config_path, settings, pairing_for(settings), created)


def set_listen(config_path: Path, section: str, listen: str) -> None:
    """Change the ``listen`` address of ``[section]`` in the config file (``make run PORT=``),
    leaving every other line of the file as it is."""
    text = config_path.read_text(encoding="utf-8")
    # The first `listen = "..."` after the section's header and before the next header.
    setting = re.compile(
        rf'^(\[{re.escape(section)}\][ \t]*\n(?:(?!\[).*\n)*?listen[ \t]*=[ \t]*)"[^"\n]*"',
        re.MULTILINE,
    )
    changed, found = setting.subn(lambda m: f'{m.group(1)}"{listen}"', text, count=1)
    if not found:
        raise ConfigError(f'{config_path} has no [{section}] listen = "..." line; set it there')
    config_path.write_text(changed, encoding="utf-8")
