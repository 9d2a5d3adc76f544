"""``mailfleet-desktop sync``: the desktop's collectors without a window, for a server.

It follows every paired agent of a workspace in the team database, pushes the suppression
list to each, collects signups and resumes interrupted uploads (``agents/headless.py``), so an
unsubscribe taken by one agent reaches the others while every desktop is closed. Runs until
SIGTERM or SIGINT, then stops cleanly (exit 0). Agents' keys come from the keyring, or, on a
host without one, from an owner-only key file written by ``--export-keys`` on a desktop.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from sqlalchemy import Engine

from mailfleet.desktop.agents import registry
from mailfleet.desktop.agents.headless import HeadlessFleet
from mailfleet.desktop.db.engine import default_database_url, open_database
from mailfleet.desktop.services import key_file, secrets
from mailfleet.desktop.services.plurals import counted
from mailfleet.desktop.services.workspaces import DEFAULT_WORKSPACE, find_workspace

log = logging.getLogger("mailfleet.desktop.sync")

URL_VARIABLE = "MAILFLEET_DATABASE_URL"
KEY_FILE_VARIABLE = "MAILFLEET_KEY_FILE"
# Exit statuses: a setup the service cannot run with (the unit does not restart on it).
BAD_SETUP = 2


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="mailfleet-desktop sync",
        description="Keep a workspace's agents in step with its database, with no window.",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(URL_VARIABLE),
        help=f"SQLAlchemy URL of the team database (or ${URL_VARIABLE}; default: this"
        " computer's desktop database)",
    )
    parser.add_argument("--workspace", default=DEFAULT_WORKSPACE, help="workspace to keep")
    parser.add_argument(
        "--key-file",
        type=Path,
        default=os.environ.get(KEY_FILE_VARIABLE),
        help=f"agents' keys from this owner-only file instead of the keyring (or"
        f" ${KEY_FILE_VARIABLE})",
    )
    parser.add_argument(
        "--export-keys",
        type=Path,
        metavar="PATH",
        help="write the workspace's agent keys from this computer's keyring to a new"
        " owner-only key file at PATH, then exit",
    )
    return parser.parse_args(argv)


def export_keys(engine: Engine, workspace_id: int, path: Path) -> int:
    """Write the keyring's keys of the workspace's agents to ``path``; how many."""
    with engine.connect() as conn:
        records = registry.list_agents(conn, workspace_id)
    key_file.write(path, {r.key_ref: secrets.load_key(r.key_ref) for r in records})
    return len(records)


def main(argv: list[str] | None = None) -> int:
    """Run the service until SIGTERM or SIGINT; the exit status."""
    # Its own lines (one per change of an agent's state, push, upload), not its libraries'.
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("mailfleet").setLevel(logging.INFO)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    url = args.database_url or default_database_url()
    try:
        if args.key_file is not None:
            key_file.use(args.key_file)
        engine = open_database(url)
    except key_file.KeyFileError as exc:
        log.error("mailfleet-desktop sync: %s", exc)
        return BAD_SETUP
    with engine.connect() as conn:
        workspace_id = find_workspace(conn, args.workspace)
    if workspace_id is None:
        engine.dispose()
        log.error("mailfleet-desktop sync: no workspace called %s in that database", args.workspace)
        return BAD_SETUP
    if args.export_keys is not None:
        try:
            count = export_keys(engine, workspace_id, args.export_keys)
        except secrets.KeyringUnavailable as exc:
            log.error("mailfleet-desktop sync: %s", exc)
            return BAD_SETUP
        finally:
            engine.dispose()
        log.info("%s written to %s", counted(count, "agent key"), args.export_keys)
        return 0
    fleet = HeadlessFleet(engine, workspace_id)
    where = engine.url.render_as_string(hide_password=True)
    log.info("keeping workspace %s in %s", args.workspace, where)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        fleet.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        fleet.run()
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
