"""The Templates page's block editor: a template built from blocks is saved, re-opened as the
same blocks, reordered by moving rows (what a drag does), and previewed at a phone's width."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.desktop.services import branding, templates
from mailfleet.desktop.services.blocks import model as m
from mailfleet.desktop.services.blocks import starters
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.block_editor import BlockEditor
from mailfleet.desktop.ui.message_preview import PHONE_WIDTH
from mailfleet.desktop.ui.qt import QModelIndex, QPushButton, QSpinBox, Qt
from mailfleet.desktop.ui.tasks import TaskRunner
from mailfleet.desktop.ui.templates_page import TemplatesPage


def _rows(editor: BlockEditor) -> list[str]:
    return [editor.list.item(r).text().strip() for r in range(editor.list.count())]


def test_a_template_built_from_blocks_is_saved_and_reopens_as_the_same_blocks(
    qtbot: QtBot, sqlite_engine: Engine, artifacts: Path
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    page = TemplatesPage(sqlite_engine, ws, TaskRunner())
    qtbot.addWidget(page)
    page.resize(1400, 820)
    page.show()
    page.new()
    page.editor.setCurrentIndex(page.editor.findData("blocks"))
    assert page.bodies.currentWidget() is page.blocks
    page.name.setText("Spring news")
    page.subject.setText("Spring is here, {{ first_name }}")

    editor = page.blocks
    editor.add_block(m.Heading(text="Spring is here"))
    editor.add_block(m.Text(text="Hello {{ first_name }}, **new** things."))
    editor.add_block(m.Button(label="See them", href="https://shop.example/spring"))
    editor.add_section(2)
    editor.add_block(m.Image(src="https://shop.example/a.png", alt="A lamp"))
    editor.add_block(m.Footer())
    assert _rows(editor) == [
        "✉  Message settings", "▦  Section", "▯  Column 1", "Heading: Spring is here",
        "Text: Hello {{ first_name }}, **new** things.", "Button: See them", "▦  Section",
        "▯  Column 1", "Image: A lamp", "Footer: You receive this because you signed up.",
        "▯  Column 2",
    ]  # fmt: skip

    # The properties panel edits the chosen block: the heading's size, then its text.
    editor.list.setCurrentRow(3)
    level = editor.properties.inputs["level"]
    assert isinstance(level, QSpinBox)
    level.setValue(2)
    editor.properties.set_value("color", "color", "#12345")  # refused: not a colour
    assert "must be a colour" in editor.properties.problem.text()

    # A drag moves rows: the button above the text, and the footer to the second column.
    def kinds(section: int, column: int) -> list[type]:
        return [type(b) for b in editor.design().sections[section].columns[column].blocks]

    editor.list.model().moveRow(QModelIndex(), 5, QModelIndex(), 4)
    qtbot.waitUntil(lambda: kinds(0, 0) == [m.Heading, m.Button, m.Text])
    editor.list.model().moveRow(QModelIndex(), 9, QModelIndex(), 11)
    qtbot.waitUntil(lambda: kinds(1, 1) == [m.Footer])
    # A block dragged above every section is no design: the move is undone, saying why.
    editor.list.model().moveRow(QModelIndex(), 3, QModelIndex(), 1)
    qtbot.waitUntil(lambda: "Not moved" in editor.problem.text())
    assert _rows(editor)[3] == "Heading: Spring is here"

    built = editor.design()
    assert kinds(1, 0) == [m.Image] and kinds(0, 0) == [m.Heading, m.Button, m.Text]
    assert built.sections[0].columns[0].blocks[0] == m.Heading(text="Spring is here", level=2)

    qtbot.waitUntil(lambda: "See them" in page.preview_html.toPlainText(), timeout=10_000)
    page.save()
    qtbot.waitUntil(lambda: page.message.text() == "Saved.", timeout=10_000)
    with sqlite_engine.connect() as conn:
        [row] = templates.list_templates(conn, ws)
    assert row.editor == "blocks" and 'href="{{ unsubscribe_url }}"' in row.html

    page.new()
    assert page.blocks.design() == m.Design()
    page.list.setCurrentRow(0)
    assert page.editor.currentData() == "blocks"
    assert page.blocks.design() == built

    page.preview_html.phone.click()
    assert page.preview_html.frame.maximumWidth() == PHONE_WIDTH
    qtbot.waitUntil(lambda: "See them" in page.preview_html.toPlainText(), timeout=10_000)
    page.blocks.list.setCurrentRow(4)
    qtbot.waitUntil(lambda: page.blocks.properties.inputs["label"].isVisible())
    page.grab().save(str(artifacts / "templates-blocks.png"))
    page.runner.wait()


def test_new_offers_the_starters_in_the_workspaces_branding(
    qtbot: QtBot, sqlite_engine: Engine, artifacts: Path
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    page = TemplatesPage(sqlite_engine, ws, TaskRunner())
    qtbot.addWidget(page)
    page.resize(1400, 900)
    page.show()
    new = next(b for b in page.findChildren(QPushButton) if b.text() == "New")
    offered = [a.text() for a in new.menu().actions() if a.text()]
    assert offered[:3] == ["Blank design (blocks)", "Blank Markdown", "Blank HTML"]
    assert offered[-6:] == list(starters.STARTERS.values())

    page.new_from_starter("newsletter")
    qtbot.waitUntil(lambda: page.name.text() == "Newsletter")
    assert page.editor.currentData() == "blocks"
    assert page.subject.text() == "Our news this month"
    assert page.blocks.design() == starters.starter("newsletter", starters.Branding(ws_name(page)))
    qtbot.waitUntil(
        lambda: "This month at Example" in page.preview_html.toPlainText(), timeout=10_000
    )
    page.blocks.list.setCurrentRow(8)  # the first paragraph
    qtbot.waitUntil(lambda: "text" in page.blocks.properties.inputs)
    qtbot.waitUntil(lambda: page.blocks.properties.inputs["text"].isVisible())
    page.grab().save(str(artifacts / "templates-starter.png"))
    page.runner.wait()


def ws_name(page: TemplatesPage) -> str:
    """The workspace's name, which heads a starter when the workspace has no logo."""
    with page.engine.connect() as conn:
        return branding.workspace_branding(conn, page.workspace_id).name


def _order(design: m.Design) -> list[list[list[str]]]:
    """Each section's columns' blocks, by their text."""
    return [
        [[str(getattr(b, "text", "") or getattr(b, "label", "")) for b in c.blocks]
         for c in s.columns]
        for s in design.sections
    ]  # fmt: skip


def test_alt_up_and_down_move_the_chosen_block_past_its_neighbour(qtbot: QtBot) -> None:
    editor = BlockEditor()
    qtbot.addWidget(editor)
    editor.show()
    first = m.Section(columns=[m.Column(blocks=[m.Heading(text="A"), m.Text(text="B")])])
    second = m.Section(columns=[m.Column(blocks=[m.Text(text="C")]),
                                m.Column(blocks=[m.Button(label="D")])])  # fmt: skip
    editor.set_design(m.Design(sections=[first, second]))
    changes: list[None] = []
    editor.changed.connect(lambda: changes.append(None))

    def press(row: int, key: Qt.Key) -> None:
        editor.list.setCurrentRow(row)
        qtbot.keyClick(editor.list, key, Qt.KeyboardModifier.AltModifier)  # type: ignore[no-untyped-call]

    # Rows: 0 settings, 1 section, 2 column, 3 A, 4 B, 5 section, 6 column, 7 C, 8 column, 9 D.
    press(4, Qt.Key.Key_Up)  # B past A, still chosen
    assert _order(editor.design()) == [[["B", "A"]], [["C"], ["D"]]]
    assert editor.list.currentRow() == 3 and "B" in editor.list.currentItem().text()
    press(3, Qt.Key.Key_Up)  # the first block of the message: nowhere to go
    assert _order(editor.design()) == [[["B", "A"]], [["C"], ["D"]]]
    press(4, Qt.Key.Key_Down)  # A at its column's end: into the next section's first column
    assert _order(editor.design()) == [[["B"]], [["A", "C"], ["D"]]]
    assert "A" in editor.list.currentItem().text()
    # The second section's first column, with what it holds, past the column after it.
    press(5, Qt.Key.Key_Down)
    assert _order(editor.design()) == [[["B"]], [["D"], ["A", "C"]]]
    assert editor.list.currentItem().text().strip() == "▯  Column 2"
    # The second section, with both columns, up past the first.
    press(4, Qt.Key.Key_Up)
    assert _order(editor.design()) == [[["D"], ["A", "C"]], [["B"]]]
    assert editor.list.currentRow() == 1
    assert len(changes) == 4  # the move that could not go anywhere changed nothing
