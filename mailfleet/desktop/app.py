"""``mailfleet-desktop``: open the database (migrating it) and show the main window."""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from pathlib import Path

from mailfleet.desktop.db.engine import default_database_url, open_database
from mailfleet.desktop.services.workspaces import DEFAULT_WORKSPACE, ensure_workspace
from mailfleet.desktop.ui.main_window import MainWindow
from mailfleet.desktop.ui.qt import QApplication, QSettings
from mailfleet.desktop.ui.simple_pages import DATABASE_URL_KEY


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="mailfleet-desktop", description=__doc__)
    parser.add_argument("--database-url", help="SQLAlchemy URL, e.g. a PostgreSQL team database")
    parser.add_argument("--workspace", default=DEFAULT_WORKSPACE, help="workspace to open")
    parser.add_argument(
        "--local-agent",
        type=Path,
        metavar="DATA_DIR",
        help="the data directory of a local agent already running (make run starts one): it is "
        "paired as this computer's agent, and started and stopped by whoever started it",
    )
    return parser.parse_args(argv)


def open_window(args: argparse.Namespace) -> MainWindow:
    """Open (and migrate) the database, pick the workspace and build the main window.

    Needs a QApplication; ``main`` creates it.
    """
    app = QApplication.instance()
    assert app is not None, "create the QApplication first"
    app.setOrganizationName("Mailfleet")
    app.setApplicationName("Mailfleet")
    settings = QSettings()
    url = args.database_url or str(settings.value(DATABASE_URL_KEY, "") or "")
    engine = open_database(url or default_database_url())
    with engine.begin() as conn:
        workspace_id = ensure_workspace(conn, args.workspace)
    return MainWindow(
        engine, workspace_id, args.workspace, settings, running_local_agent=args.local_agent
    )


def main(argv: list[str] | None = None) -> int:
    """Start the desktop app; returns the exit code of the Qt event loop."""
    # The importer may parse big files in a spawned process; frozen builds need this first.
    multiprocessing.freeze_support()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    window = open_window(args)
    window.show()
    code = app.exec()
    window.runner.wait()
    window.engine.dispose()
    return code


if __name__ == "__main__":
    sys.exit(main())
