"""The Signup forms page: the workspace's forms, the editor, and where each is published (the
hosted page's address and the HTML to embed, with Copy buttons).

Saving writes the form to the desktop database and wakes the signup sync, which pushes it to
the chosen agents in the background (``mailfleet.desktop.agents.signup_sync_thread``); an agent
that cannot be reached gets it when it is back. "Workspace branding…" opens the look of the
agents' unsubscribe and preference pages (``ui.branding_dialog``), pushed the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from mailfleet.desktop.agents import registry
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.agents.signup_sync_thread import SignupSync
from mailfleet.desktop.services import signup_forms, workspaces
from mailfleet.desktop.services.signup_forms import FormFieldDesign, FormSummary
from mailfleet.desktop.ui.branding_dialog import BrandingDialog
from mailfleet.desktop.ui.confirm import ask
from mailfleet.desktop.ui.empty_state import EmptyState
from mailfleet.desktop.ui.fleet_sync import FleetSync
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    Qt,
    QVBoxLayout,
    QWidget,
)
from mailfleet.desktop.ui.signup_form_editor import SignupFormEditor
from mailfleet.desktop.ui.tasks import Latest, TaskRunner

NO_FORMS = (
    "<h3>No signup form yet</h3><p>A signup form lets people join your lists by themselves. "
    "Your agents host it, so it works while this app is closed; new contacts are added here "
    "once they confirm by mail.</p>"
)


@dataclass(frozen=True)
class _Choices:
    forms: list[FormSummary]
    lists: list[tuple[int, str]]
    fields: list[FormFieldDesign]
    agents: list[AgentRecord]


def publishing(form: FormSummary, unreachable: dict[int, str]) -> str:
    """Where the form stands on each of its agents, one line each, in plain words."""
    if not form.agents:
        return "Not published: choose an agent under Published by."
    lines = []
    for agent in form.agents:
        if agent.error:
            lines.append(f"{agent.agent_name}: not published, {agent.error}.")
        elif agent.up_to_date:
            lines.append(f"{agent.agent_name}: published.")
        elif agent.agent_id in unreachable:
            lines.append(
                f"{agent.agent_name}: cannot be reached right now. The form is saved and will "
                "be published there when the agent is back."
            )
        else:
            lines.append(f"{agent.agent_name}: publishing…")
    return "\n".join(lines)


class SignupFormsPage(QWidget):
    """The forms on the left, the editor and where the open form is published on the right."""

    def __init__(
        self, engine: Engine, workspace_id: int, runner: TaskRunner, sync: FleetSync
    ) -> None:
        super().__init__()
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.sync = sync
        self.forms: list[FormSummary] = []
        self.current: int | None = None
        self.unreachable: dict[int, str] = {}
        self._reopen = False  # show the saved form as stored (its consent version) once read
        self._latest = Latest()
        self.confirm: QMessageBox | None = None
        self.branding: BrandingDialog | None = None

        self.list = QListWidget()
        self.list.setAccessibleName("Signup forms")
        self.list.currentRowChanged.connect(self._open)
        self.empty = EmptyState(self.list, NO_FORMS, "New form")
        self.empty.button.clicked.connect(self.new)
        new = QPushButton("New form")
        new.clicked.connect(self.new)
        self.branding_button = QPushButton("Workspace branding…")
        self.branding_button.setToolTip("The logo, colours and language of your agents' pages")
        self.branding_button.clicked.connect(self.open_branding)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(QLabel("<h2>Signup forms</h2>"))
        left_layout.addWidget(self.list, 1)
        left_layout.addWidget(new)
        left_layout.addWidget(self.branding_button)

        self.editor = SignupFormEditor()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.editor)
        self.save_button = QPushButton("Save and publish")
        self.save_button.clicked.connect(self.save)
        self.delete_button = QPushButton("Delete form…")
        self.delete_button.clicked.connect(self.delete)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        middle = QWidget()
        middle_layout = QVBoxLayout(middle)
        middle_layout.addWidget(scroll, 1)
        save_row = QHBoxLayout()
        save_row.addWidget(self.save_button)
        save_row.addWidget(self.message, 1)
        save_row.addWidget(self.delete_button)
        middle_layout.addLayout(save_row)

        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.url = QLineEdit()
        self.url.setAccessibleName("The form's web address")
        self.url.setReadOnly(True)
        self.copy_url = QPushButton("Copy")
        self.copy_url.clicked.connect(lambda: self._copy(self.url.text(), "address"))
        self.snippet = QPlainTextEdit()
        self.snippet.setAccessibleName("HTML to embed the form in a page")
        self.snippet.setReadOnly(True)
        self.copy_snippet = QPushButton("Copy")
        self.copy_snippet.clicked.connect(lambda: self._copy(self.snippet.toPlainText(), "HTML"))
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(QLabel("<b>Published on</b>"))
        right_layout.addWidget(self.status)
        right_layout.addWidget(QLabel("<b>Hosted page</b>"))
        url_row = QHBoxLayout()
        url_row.addWidget(self.url, 1)
        url_row.addWidget(self.copy_url)
        right_layout.addLayout(url_row)
        right_layout.addWidget(QLabel("<b>Embed in your web site</b>"))
        right_layout.addWidget(self.snippet, 1)
        right_layout.addWidget(self.copy_snippet)

        split = QSplitter()
        split.addWidget(left)
        split.addWidget(middle)
        split.addWidget(right)
        split.setSizes([170, 560, 290])
        QVBoxLayout(self).addWidget(split)
        sync.signups.connect(self._synced)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the forms and what the editor offers, in the background."""
        ws = self.workspace_id

        def read(conn: Connection) -> _Choices:
            return _Choices(
                signup_forms.list_forms(conn, ws),
                workspaces.lists(conn, ws),
                signup_forms.field_choices(conn, ws),
                registry.list_agents(conn, ws),
            )

        self.runner.read(self.engine, "Reading signup forms", read, self._latest.only(self._show))

    def _show(self, choices: _Choices) -> None:
        first = not self.forms and self.list.count() == 0
        self.forms = choices.forms
        self.empty.set_shown(not self.forms)
        self.list.blockSignals(True)
        self.list.clear()
        self.list.addItems([f.name for f in self.forms])
        row = next((i for i, f in enumerate(self.forms) if f.id == self.current), -1)
        self.list.setCurrentRow(row)
        self.list.blockSignals(False)
        if first or self.current is None:
            self.editor.set_choices(choices.lists, choices.fields, choices.agents)
            if self.current is None:
                self.editor.show_design(None)
        saved = next((f for f in self.forms if f.id == self.current), None)
        if self._reopen and saved is not None:
            self._reopen = False
            self.editor.show_design(saved.design)
        self._show_publishing()

    def _open(self, row: int) -> None:
        if not 0 <= row < len(self.forms):
            return
        form = self.forms[row]
        self.current = form.id
        self.editor.show_design(form.design)
        self.message.setText("")
        self._show_publishing()

    def _show_publishing(self) -> None:
        form = next((f for f in self.forms if f.id == self.current), None)
        self.status.setText(publishing(form, self.unreachable) if form else "Not saved yet.")
        self.url.setText(form.url if form else "")
        self.snippet.setPlainText(form.snippet if form else "")
        for button in (self.copy_url, self.copy_snippet):
            button.setEnabled(bool(form and form.url))
        self.delete_button.setEnabled(form is not None)

    def new(self) -> None:
        """Start a new form with the defaults (double opt-in on, every agent publishing)."""
        self.current = None
        self.list.clearSelection()
        self.editor.show_design(None)
        self.message.setText("")
        self._show_publishing()

    def save(self) -> None:
        """Save the form (on the write worker), then publish it on its agents."""
        ws, current, design = self.workspace_id, self.current, self.editor.design()

        def saved(form_pk: int) -> None:
            self.current = form_pk
            self._reopen = True
            self.message.setText("Saved. Publishing on the chosen agents…")
            self.sync.sync_signups()
            self.refresh()

        def failed(exc: Exception) -> None:
            text = explain(exc) if isinstance(exc, signup_forms.FormError) else "Could not save."
            self.message.setText(f"Not saved: {text}")

        self.runner.write(
            self.engine,
            "Saving a signup form",
            lambda c: signup_forms.save(c, ws, design, current),
            saved,
            on_error=failed,
        )

    def delete(self) -> None:
        """Ask, then delete the open form and take it down on the agents."""
        form = next((f for f in self.forms if f.id == self.current), None)
        if form is None:
            return
        ws, form_pk = self.workspace_id, form.id

        def deleted(_name: str) -> None:
            self.current = None
            self.editor.show_design(None)
            self.message.setText("Deleted. Taking it down on the agents…")
            self.sync.sync_signups()
            self.refresh()

        def failed(_exc: Exception) -> None:
            self.message.setText("Not deleted: it may have been deleted already.")

        def go() -> None:
            self.runner.write(
                self.engine,
                "Deleting a signup form",
                lambda c: signup_forms.delete_form(c, ws, form_pk),
                deleted,
                on_error=failed,
            )

        self.confirm = ask(
            self,
            "Delete the form?",
            f"Delete the form “{form.name}”?",
            "Its hosted page and its confirmation links stop answering on every agent, and "
            "where it is embedded it shows nothing. The contacts it collected stay, with their "
            "consent records.",
            "Delete form",
            go,
        )

    def open_branding(self) -> None:
        """Open the workspace's branding setting (the agents' unsubscribe and preference pages)."""
        if self.branding is not None:
            self.branding.deleteLater()
        self.branding = BrandingDialog(self.engine, self.workspace_id, self.runner, self.sync, self)
        self.branding.open()

    def _synced(self, agent_id: int, result: SignupSync | str) -> None:
        if isinstance(result, str):
            self.unreachable[agent_id] = result
        else:
            self.unreachable.pop(agent_id, None)
        self.refresh()

    def _copy(self, text: str, what: str) -> None:
        QApplication.clipboard().setText(text)
        self.message.setText(f"The {what} is copied.")
