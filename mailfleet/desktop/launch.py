"""``mailfleet-desktop`` on an install without the desktop's extras says what to install;
``mailfleet-desktop sync`` runs the headless fleet service instead of the window.

The base distribution is the agent and its client; the desktop's Qt and database packages
come with ``pip install 'mailfleet[desktop]'``. Without them, the command would otherwise end
in an import traceback.
"""

from __future__ import annotations

import sys

# What the desktop's extra brings, by import name.
_EXTRAS = {"PySide6", "shiboken6", "sqlalchemy", "alembic", "platformdirs", "keyring", "psycopg"}


def main() -> int:
    """Run the desktop (or ``sync``), or say in one line which install it needs."""
    args = sys.argv[1:]
    sync = args[:1] == ["sync"]
    try:
        if sync:
            from mailfleet.desktop.sync_service import main as run
        else:
            from mailfleet.desktop.app import main as run
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in _EXTRAS:
            raise
        print(
            "mailfleet-desktop: this install has the agent only; the desktop needs"
            " pip install 'mailfleet[desktop]'",
            file=sys.stderr,
        )
        return 2
    return run(args[1:] if sync else args)


if __name__ == "__main__":
    sys.exit(main())
