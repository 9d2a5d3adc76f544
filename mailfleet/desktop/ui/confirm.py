"""Asking before a change that cannot be undone, without blocking the event loop.

The question opens window-modal (``open``, not ``exec``), so background results keep arriving
while it is shown and a test can answer it by clicking.
"""

from __future__ import annotations

from collections.abc import Callable

from mailfleet.desktop.ui.qt import QMessageBox, QWidget


def ask(
    parent: QWidget, title: str, question: str, details: str, action: str,
    then: Callable[[], None],
) -> QMessageBox:  # fmt: skip
    """Ask ``question`` (``details`` below it); ``then`` runs if the ``action`` button is
    clicked. "Keep it" is the default. Returns the open box."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(question)
    box.setInformativeText(details)
    go = box.addButton(action, QMessageBox.ButtonRole.DestructiveRole)
    keep = box.addButton("Keep it", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(keep)
    box.buttonClicked.connect(lambda button: then() if button is go else None)
    box.open()
    return box


def names(items: tuple[str, ...] | list[str]) -> str:
    """Names in quotes, joined: “A”, “B” and “C”."""
    quoted = [f"“{item}”" for item in items]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
