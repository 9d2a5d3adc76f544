"""The properties of the chosen block (or section, column, the message's settings), drawn from
the model's field metadata: one editor per property, checked as the design's JSON is."""

from __future__ import annotations

from collections.abc import Callable

from mailfleet.desktop.services.blocks import model
from mailfleet.desktop.services.blocks.model import DesignError
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QColor,
    QColorDialog,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    Signal,
)


class PropertiesPanel(QScrollArea):
    """Edits the properties of one object in place; ``edited`` after each accepted change."""

    edited = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setWidgetResizable(True)
        self._object: object = None
        # Set by the page that owns the panel: opens the media library to choose an image
        # block's picture, handing back its reference and its alt text.
        self.choose_image: Callable[[Callable[[str, str], None]], None] | None = None
        self.inputs: dict[str, QWidget] = {}
        self.title = QLabel("")
        self.problem = QLabel("")
        self.problem.setObjectName("error")
        self.problem.setWordWrap(True)
        self._form_box = QWidget()
        self._form = QFormLayout(self._form_box)
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.addWidget(self.title)
        layout.addWidget(self._form_box)
        layout.addWidget(self.problem)
        layout.addStretch(1)
        self.setWidget(box)

    def show_object(self, obj: object) -> None:
        """Show ``obj``'s properties (a block, section, column or the design)."""
        self._object = obj
        self.problem.clear()
        while self._form.rowCount():
            self._form.removeRow(0)
        self.inputs = {}
        kind = getattr(obj, "title", "") or type(obj).__name__.replace("Design", "Message")
        self.title.setText(f"<b>{kind}</b>")
        for name, label, shown_as in model.editable(obj):
            editor = self._editor(name, shown_as, getattr(obj, name))
            self.inputs[name] = editor
            self._form.addRow(label, editor)

    def _editor(self, name: str, kind: str, value: object) -> QWidget:
        def apply(new: object) -> None:
            self.set_value(name, kind, new)

        if kind in ("int", "level"):
            spin = QSpinBox()
            spin.setRange(*((1, 3) if kind == "level" else (0, 2000)))
            spin.setValue(int(value))  # type: ignore[call-overload]
            spin.valueChanged.connect(apply)
            return spin
        if kind == "align":
            combo = QComboBox()
            combo.addItems(list(model.ALIGNMENTS))
            combo.setCurrentText(str(value))
            combo.currentTextChanged.connect(apply)
            return combo
        if kind in ("text", "lines"):
            text = QPlainTextEdit(str(value))
            text.setMinimumHeight(90)
            text.textChanged.connect(lambda: apply(text.toPlainText()))
            return text
        line = QLineEdit(str(value))
        line.textChanged.connect(apply)
        if kind == "color":
            return _with_button(line, "Pick…", _picker(line))
        if name == "src" and self.choose_image is not None:
            return _with_button(line, "Library…", self._library(line))
        return line

    def _library(self, line: QLineEdit) -> Callable[[], None]:
        def chosen(reference: str, alt: str) -> None:
            line.setText(reference)
            alt_text = self.inputs.get("alt")
            if alt and isinstance(alt_text, QLineEdit) and not alt_text.text().strip():
                alt_text.setText(alt)  # the description kept with the image

        def open_library() -> None:
            if self.choose_image is not None:
                self.choose_image(chosen)

        return open_library

    def set_value(self, name: str, kind: str, value: object) -> None:
        """Set one property if it is valid for its kind; else say why and keep the old value."""
        try:
            checked = model.check(kind, name, value)
        except DesignError as exc:
            self.problem.setText(explain(exc))
            return
        self.problem.clear()
        setattr(self._object, name, checked)
        self.edited.emit()


def _with_button(line: QLineEdit, label: str, clicked: Callable[[], None]) -> QWidget:
    """A text box with a button beside it (the colour picker, the media library)."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(line, 1)
    pick = QPushButton(label)
    pick.clicked.connect(clicked)
    row.addWidget(pick)
    return box


def _picker(line: QLineEdit) -> Callable[[], None]:
    def pick() -> None:
        chosen = QColorDialog.getColor(QColor(line.text() or "#ffffff"), line.window())
        if chosen.isValid():
            line.setText(chosen.name())

    return pick
