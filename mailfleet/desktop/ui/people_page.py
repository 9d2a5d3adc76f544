"""The People page: the team, its roles, invites, and joining with an invite."""

from __future__ import annotations

from html import escape

from sqlalchemy import Connection, Engine

from mailfleet.desktop.agents import team
from mailfleet.desktop.agents.registry import AgentError
from mailfleet.desktop.services import invites, people, secrets
from mailfleet.desktop.services.invites import InviteError
from mailfleet.desktop.services.people import Action, NotAllowed, PersonRecord, Role
from mailfleet.desktop.services.plurals import counted
from mailfleet.desktop.ui import roles
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    Signal,
)
from mailfleet.desktop.ui.tasks import Latest, Task, TaskRunner

COLUMNS = ("Name", "Role", "Status", "Agent keys")
ROLE_TEXT = {
    Role.OWNER: "Owner — everything, people and agents too",
    Role.MANAGER: "Manager — everything but people and agents",
    Role.MARKETER: "Marketer — audience, content and campaigns",
    Role.VIEWER: "Viewer — reads only",
}
# What an invite or a join may fail with that the page says in words.
_SAID = (AgentError, InviteError, NotAllowed, ValueError, secrets.KeyringUnavailable)


class PeoplePage(QWidget):
    """Who is in the team and as what; the owner invites and removes, a new desktop joins."""

    # This desktop redeemed an invite: the PersonRecord it is now.
    joined = Signal(object)

    def __init__(self, engine: Engine, workspace_id: int, runner: TaskRunner) -> None:
        super().__init__()
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.people: list[PersonRecord] = []
        self._latest = Latest()
        self.you = QLabel("")
        self.you.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setAccessibleName("People")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)

        self.name = QLineEdit(placeholderText="Name of the teammate")
        self.name.setAccessibleName("Name of the teammate to invite")
        self.role = QComboBox()
        for role in (Role.MARKETER, Role.MANAGER, Role.VIEWER, Role.OWNER):
            self.role.addItem(ROLE_TEXT[role], role.value)
        self.invite_button = QPushButton("Invite")
        self.invite_button.clicked.connect(self.invite)
        self.remove_button = QPushButton("Remove from the team")
        self.remove_button.clicked.connect(self.remove)
        self.invite_text = QLineEdit()
        self.invite_text.setReadOnly(True)
        self.invite_text.hide()
        self.copy_button = QPushButton("Copy invite")
        self.copy_button.clicked.connect(self._copy)
        self.copy_button.hide()
        for widget in (self.name, self.role, self.invite_button, self.remove_button):
            roles.guard(widget, engine, Action.MANAGE_PEOPLE)

        self.join_text = QLineEdit(placeholderText="Paste your invite: mailfleet-invite:…")
        self.join_button = QPushButton("Join the team")
        self.join_button.clicked.connect(self.join)
        self.join_row = QWidget()
        join = QHBoxLayout(self.join_row)
        join.setContentsMargins(0, 0, 0, 0)
        join.addWidget(self.join_text, 1)
        join.addWidget(self.join_button)
        self.message = QLabel("")
        self.message.setWordWrap(True)

        invite_row = QHBoxLayout()
        invite_row.addWidget(self.name, 1)
        invite_row.addWidget(self.role)
        invite_row.addWidget(self.invite_button)
        made_row = QHBoxLayout()
        made_row.addWidget(self.invite_text, 1)
        made_row.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>People</h2>"))
        layout.addWidget(self.you)
        layout.addWidget(self.join_row)
        layout.addWidget(self.table, 1)
        layout.addLayout(invite_row)
        layout.addLayout(made_row)
        layout.addWidget(self.message)
        bottom = QHBoxLayout()
        bottom.addWidget(self.remove_button)
        bottom.addStretch(1)
        layout.addLayout(bottom)
        self.show_seat()
        self.refresh()

    def show_seat(self) -> None:
        """Say who this desktop is, and offer joining when it is nobody yet."""
        seat = roles.seat_of(self.engine)
        person = seat.person if seat is not None else None
        self.join_row.setVisible(seat is not None and person is None)
        if seat is None:
            self.you.setText("")
        elif person is None:
            self.you.setText(
                "<b>This desktop has not joined the team yet.</b> Ask the workspace's owner "
                "for an invite and paste it here: it brings your own keys for the agents."
            )
        else:
            self.you.setText(
                f"You are <b>{escape(person.name)}</b>, {ROLE_TEXT[person.role].lower()}."
            )

    def refresh(self) -> None:
        """Read the team again."""
        ws = self.workspace_id
        self.runner.read(
            self.engine,
            "Reading the team",
            lambda c: people.list_people(c, ws),
            self._latest.only(self._show),
        )

    def _show(self, found: list[PersonRecord]) -> None:
        self.people = found
        self.table.setRowCount(len(found))
        for row, person in enumerate(found):
            status = "joined" if person.joined else "invited, not joined yet"
            cells = (person.name, person.role.value, status, counted(person.keys, "key"))
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))

    def invite(self) -> None:
        """Make the teammate's keys on every agent and show their one-time invite."""
        name = self.name.text().strip()
        if not name:
            self.message.setText("Type the teammate's name first.")
            return
        role = Role(self.role.currentData())
        self.invite_button.setEnabled(False)
        self.message.setText(f"Making {name}'s keys on the agents…")
        ws = self.workspace_id

        def work(_task: Task[str]) -> str:
            return team.invite(self.engine, ws, name, role)

        def done(text: str) -> None:
            self.invite_button.setEnabled(True)
            self.name.clear()
            self.invite_text.setText(text)
            self.invite_text.show()
            self.copy_button.show()
            self.message.setText(
                f"Give this invite to {name}, privately: it works once, within 7 days, on "
                "their own computer (People, Join the team)."
            )
            self.refresh()

        self.runner.run("Inviting a teammate", work, done, on_error=self._failed, network=True)

    def _copy(self) -> None:
        QApplication.clipboard().setText(self.invite_text.text())
        self.message.setText("The invite is on the clipboard.")

    def _failed(self, exc: Exception) -> None:
        roles.apply_all(self, roles.seat_of(self.engine) or people.Seat())
        if not isinstance(exc, _SAID):
            raise exc
        self.message.setText(f"<b>Not done.</b> {escape(explain(exc))}")

    def remove(self) -> None:
        """Take the selected person off the team and revoke their keys on the agents."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            self.message.setText("Select the person to remove.")
            return
        person = self.people[rows[0].row()]
        ws = self.workspace_id

        def work(_task: Task[list[str]]) -> list[str]:
            return team.remove(self.engine, ws, person.id)

        def done(missed: list[str]) -> None:
            text = f"{person.name} is no longer in the team."
            if missed:
                text += (
                    " Revoke their key on " + ", ".join(missed) + " with mailfleet-agent key "
                    "revoke: it could not be reached."
                )
            self.message.setText(text)
            self.refresh()

        self.runner.run("Removing a teammate", work, done, on_error=self._failed, network=True)

    def join(self) -> None:
        """Redeem the pasted invite: this desktop becomes its person, with their own keys."""
        text = self.join_text.text()
        if not text.strip():
            self.message.setText("Paste your invite first.")
            return
        self.join_button.setEnabled(False)
        ws = self.workspace_id

        def change(conn: Connection) -> PersonRecord:
            return invites.redeem(conn, ws, text)

        def done(person: PersonRecord) -> None:
            self.join_button.setEnabled(True)
            self.join_text.clear()
            self.message.setText(
                f"Welcome, {person.name}: your keys are in this computer's keyring."
            )
            self.joined.emit(person)

        def failed(exc: Exception) -> None:
            self.join_button.setEnabled(True)
            self._failed(exc)

        # Neither asked nor logged by the window: it is nobody yet, and the join logs itself.
        self.runner.write(
            self.engine, "Joining the team", change, done, on_error=failed, audited=False
        )
