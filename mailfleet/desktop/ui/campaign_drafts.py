"""Drafts on the Campaigns page: duplicating a campaign as a draft, opening a draft in the
wizard (sending it replaces the draft) and deleting one."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from sqlalchemy import Connection, Engine

from mailfleet.desktop.services import campaigns
from mailfleet.desktop.services.campaigns import Draft
from mailfleet.desktop.ui.campaign_wizard import CampaignWizard
from mailfleet.desktop.ui.confirm import ask
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import QMessageBox, QObject, QWidget, Signal
from mailfleet.desktop.ui.tasks import TaskRunner


class Drafts(QObject):
    """Draft actions for a page; ``changed`` fires with the draft's id after a change,
    ``failed`` with a message to show."""

    changed = Signal(int)
    failed = Signal(str)

    def __init__(
        self,
        engine: Engine,
        workspace_id: int,
        runner: TaskRunner,
        open_wizard: Callable[[], CampaignWizard | None],
        page: QWidget,
    ) -> None:
        super().__init__(page)
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.open_wizard = open_wizard
        self.page = page
        self.confirm: QMessageBox | None = None
        self.wizard: CampaignWizard | None = None  # the wizard open on a draft, if any

    def duplicate(self, campaign_id: int) -> None:
        """Copy the campaign as a new draft, then open the draft in the wizard."""
        ws = self.workspace_id

        def done(draft_id: int) -> None:
            self.changed.emit(draft_id)
            self.open(draft_id, agents_of=campaign_id)

        self.runner.write(self.engine, "Duplicating a campaign",
                          lambda c: campaigns.duplicate(c, ws, campaign_id), done,
                          on_error=lambda exc: self.failed.emit(explain(exc)))  # fmt: skip

    def open(self, draft_id: int, agents_of: int | None = None) -> None:
        """Open the draft in the wizard, its values filled in; the agents and weights of
        campaign ``agents_of`` (the one it copies) are chosen, if given."""
        ws = self.workspace_id

        def read(conn: Connection) -> Draft:
            draft = campaigns.draft_of(conn, ws, draft_id)
            if agents_of is None:
                return draft
            return dataclasses.replace(draft, agents=campaigns.agents_of(conn, ws, agents_of))

        def show(draft: Draft) -> None:
            wizard = self.open_wizard()
            if wizard is not None:
                wizard.edit_draft(draft_id, draft)
                wizard.draft_saved.connect(self.changed)
                self.wizard = wizard

        self.runner.read(self.engine, "Reading a draft",
                         read, show,
                         on_error=lambda exc: self.failed.emit(explain(exc)))  # fmt: skip

    def delete(self, draft_id: int, name: str) -> None:
        """Delete the draft after asking."""
        ws = self.workspace_id

        def delete() -> None:
            self.runner.write(self.engine, "Deleting a draft",
                              lambda c: campaigns.delete_draft(c, ws, draft_id),
                              lambda _: self.changed.emit(draft_id),
                              on_error=lambda exc: self.failed.emit(explain(exc)))  # fmt: skip

        self.confirm = ask(self.page, "Delete the draft?", f"Delete the draft “{name}”?",
                           "It was never sent; nothing else changes.", "Delete draft",
                           delete)  # fmt: skip
