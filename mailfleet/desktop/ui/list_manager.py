"""The list manager (from the Contacts page): every list with its size; new, rename and delete.

Deleting a list never deletes its contacts; it says how many are on it and which campaigns
chose it, and a list a draft campaign still needs cannot be deleted.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from mailfleet.desktop.services import lists
from mailfleet.desktop.services.audience_refs import AudienceUse, drafts_message
from mailfleet.desktop.services.lists import ListInfo
from mailfleet.desktop.services.plurals import counted
from mailfleet.desktop.ui.confirm import ask, names
from mailfleet.desktop.ui.item_manager import ItemManager
from mailfleet.desktop.ui.qt import QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget
from mailfleet.desktop.ui.tasks import TaskRunner


class ListManager(ItemManager):
    """The workspace's lists; ``changed`` fires after a change."""

    empty_text = "No lists yet: name one and click New list."

    def __init__(
        self, engine: Engine, workspace_id: int, runner: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__("Lists", ["List", "Contacts"], engine, workspace_id, runner, parent)
        self.resize(520, 380)
        self.name = QLineEdit(placeholderText="List name")
        self.new_button = QPushButton("New list")
        self.rename_button = QPushButton("Rename")
        self.delete_button = QPushButton("Delete…")
        self.new_button.clicked.connect(self.new)
        self.rename_button.clicked.connect(self.rename)
        self.delete_button.clicked.connect(self.delete)
        buttons = QHBoxLayout()
        buttons.addWidget(self.name, 1)
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.rename_button)
        buttons.addStretch(1)
        buttons.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self.selected(None)
        self.refresh()

    def read_items(self, conn: Connection) -> list[ListInfo]:
        """The lists with their sizes."""
        return lists.with_counts(conn, self.workspace_id)

    def cells(self, item: ListInfo) -> tuple[str, ...]:
        """Name and size."""
        return item.name, f"{item.members:,}"

    def identity(self, item: ListInfo) -> str:
        """The list's name (unique in the workspace)."""
        return item.name

    def selected(self, item: ListInfo | None) -> None:
        """Show the chosen list's name for renaming."""
        self.rename_button.setEnabled(item is not None)
        self.delete_button.setEnabled(item is not None)
        if item is not None:
            self.name.setText(item.name)

    def new(self) -> None:
        """Create a list with the name typed."""
        name, ws = self.name.text().strip(), self.workspace_id
        if not name:
            self.message.setText("Type a name for the new list.")
            return
        self.write("Creating a list", lambda c: lists.create(c, ws, name),
                   lambda _: f"Created the list {name}.", select=lambda _: name)  # fmt: skip

    def rename(self) -> None:
        """Rename the selected list to the name typed."""
        info, name, ws = self.current(), self.name.text().strip(), self.workspace_id
        if info is None or not name or name == info.name:
            self.message.setText("Type the new name first.")
            return
        list_id = info.id
        self.write("Renaming a list", lambda c: lists.rename(c, ws, list_id, name),
                   lambda _: f"Renamed {info.name} to {name}.", select=lambda _: name)  # fmt: skip

    def delete(self) -> None:
        """Delete the selected list after asking (its contacts stay)."""
        info = self.current()
        if info is None:
            return
        ws, list_id = self.workspace_id, info.id
        self.runner.read(self.engine, "Reading where a list is used",
                         lambda c: lists.campaigns_using(c, ws, list_id),
                         lambda use: self._ask_delete(info, use),
                         on_error=self.error)  # fmt: skip

    def _ask_delete(self, info: ListInfo, use: AudienceUse) -> None:
        if use.drafts:
            self.message.setText("⚠ " + drafts_message(use, info.name) + ".")
            return
        details = (f"{counted(info.members, 'contact is', 'contacts are')} on it. "
                   "No contact is deleted: only the list goes.")  # fmt: skip
        if use.others:
            details += (f" {counted(len(use.others), 'sent campaign')} chose it "
                        f"({names(use.others)}); their recipients were fixed when they were "
                        "sent, so nothing changes for them.")  # fmt: skip
        ws, list_id = self.workspace_id, info.id
        self.confirm = ask(
            self, "Delete the list?", f"Delete the list {info.name}?", details, "Delete list",
            lambda: self.write("Deleting a list", lambda c: lists.delete_list(c, ws, list_id),
                               lambda _: f"Deleted the list {info.name}; its contacts stay."),
        )  # fmt: skip
