"""Cards for key figures: a large number over a small caption, in a framed box (styled by
``ui/theme.py`` through the object names)."""

from __future__ import annotations

from mailfleet.desktop.ui.qt import QFrame, QLabel, Qt, QVBoxLayout


class FigureCard(QFrame):
    """One figure: ``value`` (a label set by the page) above ``caption``."""

    def __init__(self, caption: str, tip: str = "") -> None:
        super().__init__()
        self.setObjectName("card")
        self.value = QLabel("0")
        self.value.setObjectName("card-value")
        self.caption = QLabel(caption)
        self.caption.setObjectName("card-caption")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(2)
        for label in (self.value, self.caption):
            label.setAlignment(Qt.AlignmentFlag.AlignLeft)
            label.setToolTip(tip)
            layout.addWidget(label)
