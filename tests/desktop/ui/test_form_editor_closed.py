"""The signup form editor's Closed tick box goes into the form's design and back."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from mailfleet.desktop.services.signup_forms import FormDesign
from mailfleet.desktop.ui.signup_form_editor import SignupFormEditor


def test_the_editor_keeps_the_closed_tick(qtbot: QtBot, artifacts: Path) -> None:
    editor = SignupFormEditor()
    qtbot.addWidget(editor)
    editor.set_choices([(1, "News")], [], [])
    editor.show_design(FormDesign(name="Join", list_ids=[1], from_address="a@b.example",
                                  closed=True))  # fmt: skip
    editor.resize(700, 900)
    editor.show()
    assert editor.closed.isChecked() and editor.design().closed
    editor.grab().save(str(artifacts / "signup-form-editor-closed.png"))
    editor.closed.setChecked(False)
    assert not editor.design().closed
