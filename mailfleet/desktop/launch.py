"""``mailfleet-desktop`` on an install without the desktop's extras says what to install.

The base distribution is the agent and its client; the desktop's Qt and database packages
come with ``pip install 'mailfleet[desktop]'``. Without them, the command would otherwise end
in an import traceback.
"""

from __future__ import annotations

import sys

# What the desktop's extra brings, by import name.
_EXTRAS = {"PySide6", "shiboken6", "sqlalchemy", "alembic", "platformdirs", "keyring", "psycopg"}


def main() -> int:
    """Run the desktop, or say in one line which install it needs."""
    try:
        from mailfleet.desktop.app import main as run_desktop
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in _EXTRAS:
            raise
        print(
            "mailfleet-desktop: this install has the agent only; the desktop needs"
            " pip install 'mailfleet[desktop]'",
            file=sys.stderr,
        )
        return 2
    return run_desktop()


if __name__ == "__main__":
    sys.exit(main())
