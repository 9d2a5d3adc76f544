"""Render mailfleet.svg as the bundle's Windows and macOS icons (mailfleet.ico, mailfleet.icns)
with Qt's own image writers: `python installers/desktop/make_icons.py` after changing the SVG
(and copy it to mailfleet/desktop/ui/icons/app.svg, the window's icon)."""

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

HERE = Path(__file__).resolve().parent
SIZE = 256


def main() -> None:
    """Write mailfleet.ico and mailfleet.icns beside this script."""
    app = QGuiApplication([])
    image = QImage(SIZE, SIZE, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    QSvgRenderer(str(HERE / "mailfleet.svg")).render(painter)
    painter.end()
    for suffix in ("ico", "icns"):
        if not image.save(str(HERE / f"mailfleet.{suffix}"), suffix.upper()):
            raise SystemExit(f"Qt could not write mailfleet.{suffix}")
    app.quit()


if __name__ == "__main__":
    main()
