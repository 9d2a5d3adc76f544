"""The Templates page: edit subject, HTML and text with merge tags, a live preview for a chosen
contact (the agent's own renderer), pre-send checks and a test send through an agent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from html import escape

from sqlalchemy import Connection, Engine

from mailfleet.desktop.agents import registry
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.services import (
    branding,
    media,
    segments,
    template_editors,
    templates,
    workspaces,
)
from mailfleet.desktop.services.blocks import model as blocks
from mailfleet.desktop.services.blocks import starters
from mailfleet.desktop.services.campaigns import Audience
from mailfleet.desktop.services.content_checks import WARNING, Finding
from mailfleet.desktop.services.templates import Preview, TemplateRow
from mailfleet.desktop.ui import test_send_task
from mailfleet.desktop.ui.block_editor import BlockEditor
from mailfleet.desktop.ui.checks_panel import ChecksPanel
from mailfleet.desktop.ui.empty_state import EmptyState
from mailfleet.desktop.ui.media_library import Chosen, MediaLibrary
from mailfleet.desktop.ui.message_preview import MessagePreview
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.notice import Notice
from mailfleet.desktop.ui.qt import (
    QComboBox,
    QEvent,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QObject,
    QPlainTextEdit,
    QPushButton,
    QShowEvent,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QTextBrowser,
    QTimer,
    QVBoxLayout,
    QWidget,
    isValid,
)
from mailfleet.desktop.ui.spam_check import SpamScore
from mailfleet.desktop.ui.starter_menu import starter_menu
from mailfleet.desktop.ui.tasks import Latest, TaskRunner

PREVIEW_DELAY_MS = 300
# The editors a template can be written in, as the Editor choice lists them.
EDITOR_NAMES = {"blocks": "Blocks", "markdown": "Markdown", "html": "HTML"}


NO_TEMPLATES = (
    "<h3>No template yet</h3><p>A template is a message to reuse: a subject, HTML and text, "
    "with merge tags such as {{ first_name }} filled in for each recipient.</p>"
)


@dataclass(frozen=True)
class _Choices:
    templates: list[TemplateRow]
    tags: list[str]
    agents: list[AgentRecord]
    audiences: list[tuple[str, Audience]]  # the lists and segments to pick a contact from


class TemplatesPage(QWidget):
    """Saved templates and the editor with its preview."""

    def __init__(self, engine: Engine, workspace_id: int, runner: TaskRunner) -> None:
        super().__init__()
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.saved: list[TemplateRow] = []
        self.current_id: int | None = None
        self._latest = Latest()
        self._previews = Latest()
        self._tags = Latest()

        self.list = QListWidget()
        self.list.setAccessibleName("Templates")
        self.list.currentRowChanged.connect(self._open)
        self.empty = EmptyState(self.list, NO_TEMPLATES, "New template")
        self.empty.button.clicked.connect(self.new)
        new = QPushButton("New")
        new.setMenu(starter_menu(new, self.new_blank, self.new_from_starter))
        delete = QPushButton("Delete")
        delete.clicked.connect(self.delete)
        self.library: MediaLibrary | None = None
        library = QPushButton("Media library…")
        library.clicked.connect(lambda: self.open_library())
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(QLabel("<h2>Templates</h2>"))
        left_layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addWidget(new)
        row.addWidget(delete)
        left_layout.addLayout(row)
        left_layout.addWidget(library)

        self.name = QLineEdit()
        self.name.setAccessibleName("Template name")
        self.subject = QLineEdit()
        self.html = QPlainTextEdit()
        self.text = QPlainTextEdit()
        self.text.setPlaceholderText("Optional: derived from the HTML when empty")
        self.tags = QComboBox()
        self.tags.setObjectName("merge-tags")
        insert = QPushButton("Insert merge tag")
        insert.clicked.connect(self.insert_tag)
        self._target: QLineEdit | QPlainTextEdit = self.html
        for editor in (self.subject, self.html, self.text):
            editor.installEventFilter(self)
        tag_row = QHBoxLayout()
        tag_row.addWidget(self.tags, 1)
        tag_row.addWidget(insert)
        save = QPushButton("Save")
        save.clicked.connect(self.save)
        self.message = Notice()
        self.markdown = QPlainTextEdit()
        self.markdown.setPlaceholderText("# A heading\n\nText with **bold** and [links](https://…)")
        self.markdown.installEventFilter(self)
        self.blocks = BlockEditor()
        self.blocks.properties.choose_image = self.open_library
        self.editor = QComboBox()
        for key, label in EDITOR_NAMES.items():
            self.editor.addItem(label, key)
        html_box = QWidget()
        html_form = QFormLayout(html_box)
        html_form.setContentsMargins(0, 0, 0, 0)
        html_form.addRow("HTML", self.html)
        html_form.addRow("Text", self.text)
        self.bodies = QStackedWidget()
        self._body_pages = {"blocks": self.blocks, "markdown": self.markdown, "html": html_box}
        for widget in self._body_pages.values():
            self.bodies.addWidget(widget)
        self.editor.currentIndexChanged.connect(self._editor_chosen)
        self.editor.setCurrentIndex(self.editor.findData("html"))
        self._editor_chosen()
        editor_box = QWidget()
        form = QFormLayout(editor_box)
        form.addRow("Name", self.name)
        form.addRow("Subject", self.subject)
        form.addRow("Editor", self.editor)
        form.addRow("Merge tags", tag_row)
        form.addRow(self.bodies)
        form.addRow(save, self.message)

        self.contact = QLineEdit()
        self.contact.setAccessibleName("Preview for contact")
        self.contact.setPlaceholderText("Preview for contact (email); empty: no merge values")
        self.sample_from = QComboBox()
        self.sample_from.addItem("Any contact", None)
        self.sample_from.setToolTip("Where Random contact picks from")
        sample = QPushButton("Random contact")
        sample.clicked.connect(self.sample_contact)
        contact_row = QHBoxLayout()
        contact_row.addWidget(self.contact, 2)
        contact_row.addWidget(self.sample_from, 1)
        contact_row.addWidget(sample)
        self.preview_subject = QLabel("")
        self.preview_subject.setWordWrap(True)
        self.preview_html = MessagePreview()
        self.preview_text = QTextBrowser()
        tabs = QTabWidget()
        tabs.addTab(self.preview_html, "HTML")
        tabs.addTab(self.preview_text, "Text")
        self.spam = SpamScore(engine, workspace_id, runner, self._spam_message)
        # The content's checks, the test From's domain through the test agent, the spam score.
        self.checks = ChecksPanel(self.spam)
        self.test_to = QLineEdit()
        self.test_to.setAccessibleName("Send a test to")
        self.test_to.setPlaceholderText("Test to: a@example.com, b@example.com")
        self.test_from = QLineEdit()
        self.test_from.setAccessibleName("Test sender address")
        self.test_from.setPlaceholderText("From address")
        self.test_agent = QComboBox()
        self.test_agent.setAccessibleName("Agent that sends the test")
        self._agents: dict[int, AgentRecord] = {}
        self.test_from.editingFinished.connect(self._check_from)
        self.test_agent.currentIndexChanged.connect(self._check_from)
        self.test_button = QPushButton("Send test")
        self.test_button.clicked.connect(self.send_test)
        preview_box = QWidget()
        pv = QVBoxLayout(preview_box)
        pv.addLayout(contact_row)
        pv.addWidget(self.preview_subject)
        pv.addWidget(tabs, 1)
        pv.addWidget(self.checks)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_to, 2)
        test_row.addWidget(self.test_from, 1)
        test_row.addWidget(self.test_agent)
        test_row.addWidget(self.test_button)
        pv.addLayout(test_row)

        split = QSplitter()
        split.addWidget(left)
        split.addWidget(editor_box)
        split.addWidget(preview_box)
        split.setSizes([180, 420, 420])
        layout = QVBoxLayout(self)
        layout.addWidget(split)

        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(PREVIEW_DELAY_MS)
        self.timer.timeout.connect(self.update_preview)
        for signal in (
            self.subject.textChanged,
            self.html.textChanged,
            self.text.textChanged,
            self.markdown.textChanged,
            self.blocks.changed,
            self.editor.currentIndexChanged,
            self.contact.textChanged,
        ):
            signal.connect(self.timer.start)
        self.refresh()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Remember which editor had focus last: merge tags go there."""
        if event.type() == QEvent.Type.FocusIn and isinstance(watched, QLineEdit | QPlainTextEdit):
            self._target = watched
        return False

    def refresh(self, then: Callable[[], None] | None = None) -> None:
        """Reload the templates, merge tags and agents in the background, then call ``then``."""
        ws = self.workspace_id

        def read(conn: Connection) -> _Choices:
            return _Choices(
                templates.list_templates(conn, ws),
                templates.merge_tags(conn, ws),
                registry.list_agents(conn, ws),
                [(f"List: {name}", Audience(lists=(list_id,)))
                 for list_id, name in workspaces.lists(conn, ws)]
                + [(f"Segment: {name}", Audience(segments=(segment_id,)))
                   for segment_id, name, _ in segments.saved(conn, ws)],
            )  # fmt: skip

        def show(choices: _Choices) -> None:
            self._show(choices)
            if then is not None:
                then()

        self.runner.read(self.engine, "Reading templates", read, self._latest.only(show))

    def showEvent(self, event: QShowEvent) -> None:
        """Each time the page is shown, re-read the merge tags: an import or the field manager
        may have added, renamed or deleted fields since."""
        super().showEvent(event)
        ws = self.workspace_id
        self.runner.read(self.engine, "Reading merge tags", lambda c: templates.merge_tags(c, ws),
                         self._tags.only(self._show_tags))  # fmt: skip

    def _show_tags(self, tags: list[str]) -> None:
        chosen = self.tags.currentText()
        self.tags.clear()
        self.tags.addItems(tags)
        self.tags.setCurrentIndex(max(self.tags.findText(chosen), 0))

    def _show(self, choices: _Choices) -> None:
        self.saved = choices.templates
        self.empty.set_shown(not self.saved)
        self.list.blockSignals(True)
        self.list.clear()
        self.list.addItems([t.name for t in self.saved])
        self.list.blockSignals(False)
        self._show_tags(choices.tags)
        self._agents = {record.id: record for record in choices.agents}
        self.test_agent.blockSignals(True)
        self.test_agent.clear()
        for record in choices.agents:
            self.test_agent.addItem(record.name, record.id)
        self.test_agent.blockSignals(False)
        self._check_from()
        chosen = self.sample_from.currentText()
        while self.sample_from.count() > 1:
            self.sample_from.removeItem(1)
        for label, audience in choices.audiences:
            self.sample_from.addItem(label, audience)
        self.sample_from.setCurrentIndex(max(self.sample_from.findText(chosen), 0))

    def _open(self, row: int) -> None:
        if not 0 <= row < len(self.saved):
            return
        t = self.saved[row]
        self.current_id = t.id
        self.name.setText(t.name)
        self.subject.setText(t.subject)
        self.html.setPlainText(t.html)
        self.text.setPlainText(t.text)
        self.markdown.setPlainText(t.source if t.editor == "markdown" else "")
        try:
            design = blocks.from_json(t.source) if t.editor == "blocks" else blocks.Design()
        except blocks.DesignError as exc:
            self.message.setText(f"The design cannot be opened: {explain(exc)}")
            design = blocks.Design()
        self.blocks.set_design(design)
        self.editor.setCurrentIndex(self.editor.findData(t.editor))

    def _editor_chosen(self) -> None:
        self.bodies.setCurrentWidget(self._body_pages[self.editor.currentData()])

    def content(self) -> tuple[str, str, str, str]:
        """(editor, its source, typed HTML, typed text) as the form shows them now; the
        source is the Markdown or the design's JSON (``services.template_editors``)."""
        editor, source = str(self.editor.currentData()), ""
        if editor == "blocks":
            source = blocks.to_json(self.blocks.design())
        elif editor == "markdown":
            source = self.markdown.toPlainText()
        return editor, source, self.html.toPlainText(), self.text.toPlainText()

    def new(self) -> None:
        """Start an empty template."""
        self.current_id = None
        self.list.clearSelection()
        for editor in (self.name, self.subject):
            editor.clear()
        self.html.clear()
        self.text.clear()
        self.markdown.clear()
        self.blocks.set_design(blocks.Design())

    def new_blank(self, editor: str) -> None:
        """Start an empty template in ``editor``."""
        self.new()
        self.editor.setCurrentIndex(self.editor.findData(editor))

    def new_from_starter(self, key: str) -> None:
        """Start a template from the starter design ``key``, in the workspace's branding."""
        ws = self.workspace_id

        def read(conn: Connection) -> blocks.Design:
            return starters.starter(key, branding.workspace_branding(conn, ws))

        def show(design: blocks.Design) -> None:
            self.new_blank("blocks")
            self.name.setText(starters.STARTERS[key])
            self.subject.setText(starters.SUBJECTS[key])
            self.blocks.set_design(design)
            self.timer.start()

        self.runner.read(self.engine, "Reading the workspace's branding", read, show)

    def sample_contact(self) -> None:
        """Preview for a contact picked at random from the chosen list or segment."""
        ws, audience = self.workspace_id, self.sample_from.currentData()

        def show(address: str) -> None:
            if address:
                self.contact.setText(address)
            elif audience is None:
                self.message.setText("There is no contact to preview for yet.")
            else:
                self.message.setText(f"{self.sample_from.currentText()} has no one to send to.")

        self.runner.read(self.engine, "Picking a contact",
                         lambda c: templates.sample_contact(c, ws, audience), show)  # fmt: skip

    def insert_tag(self) -> None:
        """Insert the chosen merge tag where the cursor is."""
        tag = "{{ " + self.tags.currentText() + " }}"
        if isinstance(self._target, QLineEdit):
            self._target.insert(tag)
        else:
            self._target.insertPlainText(tag)

    def save(self) -> None:
        """Save the template (on the write worker); "Saved." once the list shows it."""
        ws, current = self.workspace_id, self.current_id
        name, subject = self.name.text(), self.subject.text()
        editor, source, html, text = self.content()

        def saved(template_id: int) -> None:
            self.current_id = template_id
            self.refresh(then=lambda: self.message.flash("Saved."))

        self.runner.write(
            self.engine,
            "Saving a template",
            lambda c: template_editors.save(
                c, ws, name, subject, editor, source, current, html, text
            ),
            saved,
            on_error=lambda exc: self.message.setText(f"Not saved: {explain(exc)}"),
        )

    def delete(self) -> None:
        """Delete the open template."""
        if self.current_id is None:
            return
        ws, current = self.workspace_id, self.current_id
        self.new()
        self.runner.write(
            self.engine,
            "Deleting a template",
            lambda c: templates.remove(c, ws, current),
            lambda _: self.refresh(),
            on_error=lambda exc: self.message.setText(f"Not deleted: {explain(exc)}"),
        )

    def update_preview(self) -> None:
        """Render the preview and run the checks in the background."""
        subject, (editor, source, typed_html, typed_text) = self.subject.text(), self.content()
        contact, engine, ws = self.contact.text().strip(), self.engine, self.workspace_id

        def work(conn: Connection) -> tuple[Preview, list[Finding]]:
            body = template_editors.render(editor, source, typed_html, typed_text)
            html, text = body.html, body.text
            found = templates.checks(conn, ws, subject, html, text)
            address, name = "someone@example.com", ""
            values: dict[str, str] = {}
            if contact:
                try:
                    address, name, values = templates.contact_values(conn, ws, contact)
                except LookupError:
                    missing = f"{contact} is not a contact here: the preview has no merge values."
                    found.append(Finding(WARNING, missing, "Type the email of a contact."))
            shown = templates.preview(subject, html, text, address, name, values)
            return replace(shown, html=media.local_html(conn, ws, shown.html)), found

        self.runner.read(
            engine, "Rendering the preview", work, self._previews.only(self._previewed)
        )
        self.spam.schedule()

    def open_library(self, on_choose: Chosen | None = None) -> None:
        """Open the media library (to choose an image when ``on_choose`` is given)."""
        if self.library is not None:
            self.library.deleteLater()
        self.library = MediaLibrary(self.engine, self.workspace_id, self.runner, self, on_choose)
        self.library.open()

    def _previewed(self, result: tuple[Preview, list[Finding]]) -> None:
        if not isValid(self):  # closed while the preview was rendered (its runner outlives it)
            return
        shown, found = result
        if shown.error:
            why = "fix the errors under Checks." if any(f.blocks for f in found) else shown.error
            self.preview_subject.setText(f"<b>Cannot render:</b> {escape(why)}")
        else:
            self.preview_subject.setText(f"<b>Subject:</b> {shown.subject} · {shown.size:,} bytes")
            self.preview_html.setHtml(shown.html)
            self.preview_text.setPlainText(shown.text)
        self.checks.show_findings(found)

    def _check_from(self) -> None:
        """The test From's domain, as the chosen test agent signs it and DNS publishes it."""
        chosen = self._agents.get(self.test_agent.currentData())
        records = [chosen] if chosen is not None else []
        self.checks.check_from(self.runner, records, self.test_from.text())

    def _spam_message(self) -> Callable[[], bytes]:
        """How to render the message as it is now (from whichever editor), for SpamAssassin."""
        subject, (editor, source, typed_html, typed_text) = self.subject.text(), self.content()
        sender = self.test_from.text().strip() or "news@example.com"

        def render() -> bytes:
            body = template_editors.render(editor, source, typed_html, typed_text)
            return templates.message_bytes(subject, body.html, body.text, "someone@example.com",
                                           "", {}, sender)  # fmt: skip

        return render

    def send_test(self) -> None:
        """Send the template to the test addresses through the chosen agent."""
        agent_id = self.test_agent.currentData()
        if agent_id is None:
            self.message.setText("Pair an agent to send tests.")
            return
        subject, (editor, source, typed_html, typed_text) = self.subject.text(), self.content()

        def body() -> tuple[str, str, str]:
            rendered = template_editors.render(editor, source, typed_html, typed_text)
            return subject, rendered.html, rendered.text

        test_send_task.send_in_background(
            self.runner,
            self.message,
            self.engine,
            self.workspace_id,
            agent_id,
            test_send_task.addresses(self.test_to.text()),
            body,
            self.test_from.text().strip(),
            self.contact.text().strip(),
        )
