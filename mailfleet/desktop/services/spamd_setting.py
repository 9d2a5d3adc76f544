"""The workspace's SpamAssassin setting: where its spamd runs (host:port), or none."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from mailfleet.desktop.db.models import Workspace
from mailfleet.desktop.services import people
from mailfleet.desktop.services.people import Action

DEFAULT_PORT = 783


def parse_address(address: str) -> tuple[str, int]:
    """(host, port) of "host", "host:port" or "[v6]:port"; ``ValueError`` when it is not one."""
    text = address.strip()
    host, colon, port = text.rpartition(":")
    if not colon or "]" in port:
        host, port = text, str(DEFAULT_PORT)
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{address} is not a spamd address: write host:port, e.g. 127.0.0.1:783")
    return host, int(port)


def spamd_address(conn: Connection, workspace_id: int) -> str:
    """The workspace's spamd as host:port; "" when the spam check is not set up."""
    return conn.scalar(select(Workspace.spamd_address).where(Workspace.id == workspace_id)) or ""


def set_spamd_address(conn: Connection, workspace_id: int, address: str) -> None:
    """Keep ``address`` (checked; "" turns the spam check off); owners and managers only."""
    people.require(conn, Action.CHANGE_SETTINGS)
    text = address.strip()
    if text:
        parse_address(text)
    conn.execute(update(Workspace).where(Workspace.id == workspace_id).values(spamd_address=text))
