"""Entry point of the bundled desktop: ``--version`` answers without opening a window.

PyInstaller freezes this file; everything else is ``mailfleet.desktop.app``. ``--version`` still
starts Qt (offscreen when there is no display), so it proves the bundle's Qt libraries load.
"""

from __future__ import annotations

import multiprocessing
import os
import sys


def _version() -> int:
    from importlib.metadata import PackageNotFoundError, version

    from PySide6 import __version__ as pyside_version
    from PySide6.QtWidgets import QApplication

    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication([sys.argv[0]])
    try:
        ours = version("mailfleet")
    except PackageNotFoundError:
        from mailfleet.agent import __version__ as ours
    app.setApplicationVersion(ours)
    print(f"Mailfleet desktop {app.applicationVersion()} (Qt {pyside_version}, "
          f"platform {app.platformName()})")
    return 0


def main() -> int:
    """Run the desktop, or print its version."""
    multiprocessing.freeze_support()  # the importer's worker processes start from this binary
    if sys.argv[1:] == ["--version"]:
        return _version()
    from mailfleet.desktop.app import main as desktop_main

    return desktop_main()


if __name__ == "__main__":
    sys.exit(main())
