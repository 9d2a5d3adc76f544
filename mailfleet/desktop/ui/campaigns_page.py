"""The Campaigns page: the list, the wizard, background uploads, control and moving work
away from an unreachable agent."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine

from mailfleet.desktop.agents import fleet, upload
from mailfleet.desktop.agents.upload_process import upload_in_process
from mailfleet.desktop.db.models import CampaignState
from mailfleet.desktop.services import campaigns
from mailfleet.desktop.services.campaigns import CampaignRow
from mailfleet.desktop.services.plurals import counted
from mailfleet.desktop.ui import dates
from mailfleet.desktop.ui.ab_results_view import AbResultsView
from mailfleet.desktop.ui.agents_page import AgentsPage
from mailfleet.desktop.ui.campaign_drafts import Drafts
from mailfleet.desktop.ui.campaign_wizard import CampaignWizard
from mailfleet.desktop.ui.empty_state import EmptyState
from mailfleet.desktop.ui.fleet_sync import FleetSync
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from mailfleet.desktop.ui.tasks import Latest, Task, TaskRunner

COLUMNS = ("Name", "State", "Recipients", "Created", "Starts")
_DONE = {"pause": "Paused", "resume": "Resumed", "cancel": "Cancelled", "retry": "Done"}
# An agent must be unreachable this long before its recipients may be moved elsewhere.
MOVE_AFTER_SECONDS = 300.0


NO_CAMPAIGNS = (
    "<h3>No campaign yet</h3><p>A campaign sends one message to a list or a segment of your "
    "contacts through your agents. Import contacts and write a template first, then create "
    "the campaign: nothing is sent before you confirm.</p>"
)


class CampaignsPage(QWidget):
    """Every campaign; new ones through the wizard; uploads run in the background."""

    open_dashboard = Signal(int)
    # A campaign's state may have changed here (a command, an upload ending): its id.
    campaign_changed = Signal(int)

    def __init__(
        self,
        engine: Engine,
        workspace_id: int,
        runner: TaskRunner,
        sync: FleetSync,
        agents_page: AgentsPage,
        move_after: float = MOVE_AFTER_SECONDS,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.sync = sync
        self.agents_page = agents_page
        self.move_after = move_after
        self.rows: list[CampaignRow] = []
        self.uploading: dict[int, threading.Event] = {}
        # Campaigns given more to upload (moved recipients) while their upload was finishing.
        self._upload_again: set[int] = set()
        # Campaigns whose last upload could not reach some agents: their names.
        self.stalled: dict[int, tuple[str, ...]] = {}
        self.confirm: QMessageBox | None = None  # the question being asked, if any
        self._latest = Latest()

        self.message = QLabel("Loading…")
        self.message.setWordWrap(True)
        self.new_button = QPushButton("New campaign…")
        self.new_button.clicked.connect(self.new_campaign)
        self.dashboard_button = QPushButton("Dashboard")
        self.dashboard_button.clicked.connect(self._dashboard)
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.retry_button = QPushButton("Retry upload")
        self.retry_button.clicked.connect(self.retry)
        self.cancel_button = QPushButton("Cancel campaign")
        self.drafts = Drafts(engine, workspace_id, runner, self.new_campaign, self)
        self.drafts.changed.connect(lambda _id: self.refresh())
        self.drafts.failed.connect(self.message.setText)
        self.duplicate_button = QPushButton("Duplicate")
        self.duplicate_button.setToolTip(
            "A new draft with the same content, audience, sender and settings; "
            "none of its recipients or results"
        )
        self.duplicate_button.clicked.connect(self._duplicate)
        self.delete_draft_button = QPushButton("Delete draft…")
        self.delete_draft_button.clicked.connect(self._delete_draft)
        self.ab_button = QPushButton("A/B results…")
        self.ab_button.setToolTip("How the variants do, and the winner")
        self.ab_button.clicked.connect(self.show_ab_results)
        self.ab_view: AbResultsView | None = None  # the results open, if any
        for button, action in (
            (self.pause_button, "pause"),
            (self.resume_button, "resume"),
            (self.cancel_button, "cancel"),
        ):
            button.clicked.connect(lambda _=False, a=action: self.control(a))
        self.action_buttons = {
            "pause": self.pause_button,
            "resume": self.resume_button,
            "retry": self.retry_button,
            "cancel": self.cancel_button,
        }
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setAccessibleName("Campaigns")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # "Cancelling — waiting for Oslo" is read whole.
        self.table.horizontalHeader().setSectionResizeMode(
            1, QHeaderView.ResizeMode.ResizeToContents
        )
        self.table.doubleClicked.connect(lambda _i: self._open_selected())
        self.table.itemSelectionChanged.connect(self.update_buttons)
        self.empty = EmptyState(self.table, NO_CAMPAIGNS, "New campaign…")
        self.empty.button.clicked.connect(self.new_campaign)
        self.progress = QProgressBar()
        self.progress.hide()
        self.move_from = QComboBox()
        self.move_button = QPushButton("Move its unsent recipients to the other agents")
        self.move_button.clicked.connect(self.move_unsent)
        self.move_box = QWidget()
        move_row = QHBoxLayout(self.move_box)
        move_row.setContentsMargins(0, 0, 0, 0)
        move_row.addWidget(QLabel("Unreachable agent:"))
        move_row.addWidget(self.move_from)
        move_row.addWidget(self.move_button)
        move_row.addStretch(1)
        self.move_box.hide()

        buttons = QHBoxLayout()
        for b in (
            self.new_button,
            self.dashboard_button,
            self.pause_button,
            self.resume_button,
            self.retry_button,
            self.duplicate_button,
            self.delete_draft_button,
            self.ab_button,
        ):
            buttons.addWidget(b)
        # Apart from the others: cancelling cannot be undone.
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Campaigns</h2>"))
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.move_box)

        self.sync.applied.connect(self._changed)
        self.sync.agent_state.connect(self._agent_state)
        self.timer = QTimer(self)
        self.timer.setInterval(2000)
        self.timer.timeout.connect(self._check_unreachable)
        self.timer.start()
        self.update_buttons()
        self.refresh()

    # -- list ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload the list in the background (small: one row per campaign)."""
        ws = self.workspace_id
        self.runner.read(
            self.engine,
            "Reading campaigns",
            lambda c: campaigns.list_campaigns(c, ws),
            self._latest.only(self._show),
        )

    def _show(self, rows: list[CampaignRow]) -> None:
        if self.message.text() == "Loading…":
            self.message.setText("")
        selected = self.selected()
        self.rows = rows
        self.empty.set_shown(not rows)
        self.table.setRowCount(len(self.rows))
        for row, c in enumerate(self.rows):
            starts = dates.show(c.start_at) if c.start_at else "at once"
            state = campaigns.state_text(c)
            if c.id in self.stalled and c.state is CampaignState.UPLOADING:
                state = f"waiting for {_names(self.stalled[c.id])}"
            cells = (
                c.name,
                state,
                f"{c.recipients:,}",
                dates.show(c.created_at),
                starts,
            )
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
            if selected is not None and c.id == selected:
                self.table.selectRow(row)
        self.update_buttons()

    def update_buttons(self) -> None:
        """Enable only the commands that make sense for the selected campaign's state."""
        campaign_id = self.selected()
        row = next((r for r in self.rows if r.id == campaign_id), None)
        allowed = (
            campaigns.allowed_actions(row.state, row.command) if row is not None else frozenset()
        )
        for action, button in self.action_buttons.items():
            button.setEnabled(action in allowed)
        command = row.command if row is not None else None
        self.retry_button.setText("Retry upload" if command is None else f"Retry {command}")
        self.retry_button.setToolTip(
            "Upload the recipients the agents do not have yet"
            if command is None
            else f"Tell the agents that have not taken the {command} yet"
        )
        if campaign_id in self.uploading:
            self.retry_button.setEnabled(False)
        self.duplicate_button.setEnabled(row is not None)
        self.delete_draft_button.setEnabled(row is not None and row.state is CampaignState.DRAFT)
        self.ab_button.setEnabled(
            row is not None and row.ab_test and row.state is not CampaignState.DRAFT
        )

    def _changed(self, applied: object) -> None:
        # Only a state change (e.g. completed) alters the list; counts live on the dashboard.
        self.refresh()

    def selected(self) -> int | None:
        """The selected campaign's id."""
        model = self.table.selectionModel()
        rows = model.selectedRows() if model is not None else []
        if not rows or rows[0].row() >= len(self.rows):
            return None
        return self.rows[rows[0].row()].id

    def _selected_row(self) -> CampaignRow | None:
        campaign_id = self.selected()
        return next((r for r in self.rows if r.id == campaign_id), None)

    def _open_selected(self) -> None:
        """A draft opens in the wizard; a campaign that was sent, on the dashboard."""
        row = self._selected_row()
        if row is not None and row.state is CampaignState.DRAFT:
            self.drafts.open(row.id)
        else:
            self._dashboard()

    def _duplicate(self) -> None:
        row = self._selected_row()
        if row is not None:
            self.drafts.duplicate(row.id)

    def _delete_draft(self) -> None:
        row = self._selected_row()
        if row is not None and row.state is CampaignState.DRAFT:
            self.drafts.delete(row.id, row.name)

    def show_ab_results(self) -> AbResultsView | None:
        """Open the selected campaign's A/B results (asked of its agents)."""
        row = self._selected_row()
        if row is None or not row.ab_test:
            return None
        if self.ab_view is not None:
            self.ab_view.close()
        self.ab_view = AbResultsView(
            self.engine, self.workspace_id, self.runner, row.id, row.name, self
        )
        self.ab_view.show()
        return self.ab_view

    def _dashboard(self) -> None:
        campaign_id = self.selected()
        if campaign_id is not None:
            self.open_dashboard.emit(campaign_id)

    # -- new and upload -----------------------------------------------------------------------
    def new_campaign(self) -> CampaignWizard | None:
        """Open the wizard; a saved campaign starts uploading at once."""
        if not self.agents_page.records:
            self.message.setText("Pair an agent (or start the local one) on the Agents page first.")
            return None
        wizard = CampaignWizard(
            self.engine,
            self.workspace_id,
            self.runner,
            list(self.agents_page.records),
            dict(self.agents_page.rates),
            self,
            dict(self.agents_page.status),
        )
        wizard.created.connect(self._created)
        wizard.show()
        return wizard

    def _created(self, campaign_id: int) -> None:
        self.refresh()
        self.upload(campaign_id)

    def _agent_state(self, _agent_id: int, state: str) -> None:
        # An agent is reachable again: whatever could not be uploaded to it goes now.
        if state == "following":
            self.resume_uploads()

    def resume_uploads(self) -> None:
        """Resume every upload that was interrupted (the app closed or crashed mid-upload, or
        an agent could not be reached); uploads already running are left to finish."""
        ws = self.workspace_id

        def resume(waiting: list[int]) -> None:
            for campaign_id in waiting:
                if campaign_id not in self.uploading:
                    self.upload(campaign_id)

        self.runner.read(
            self.engine,
            "Looking for interrupted uploads",
            lambda c: campaigns.unfinished_uploads(c, ws),
            resume,
        )

    def retry(self) -> None:
        """Give the selected campaign's agents what they do not have yet: its recipients, or
        the cancel (pause, resume) they have not taken."""
        campaign_id = self.selected()
        if campaign_id is not None:
            self.retry_campaign(campaign_id)

    def retry_campaign(self, campaign_id: int) -> None:
        """Retry the campaign's waiting command on its agents, else its upload."""
        row = next((r for r in self.rows if r.id == campaign_id), None)
        if row is not None and row.command is not None:
            self._send_control(campaign_id, "retry")
        else:
            self.upload(campaign_id)

    def upload(self, campaign_id: int) -> None:
        """Upload (or resume uploading) a saved campaign in the background, with progress."""
        if campaign_id in self.uploading:
            # The running upload may have read its parts already: go again once it is done.
            self._upload_again.add(campaign_id)
            return
        cancel = threading.Event()
        self.uploading[campaign_id] = cancel
        self.update_buttons()
        self.progress.setRange(0, 0)
        self.progress.show()
        self.message.setText("Uploading recipients to the agents…")
        engine, ws = self.engine, self.workspace_id

        def work(task: Task[None]) -> None:
            upload_in_process(engine, ws, campaign_id, task.report, cancel)

        def progress(value: object) -> None:
            assert isinstance(value, upload.Progress)
            self.progress.setRange(0, max(value.total, 1))
            self.progress.setValue(value.done)
            self.progress.setFormat(f"%v of %m recipients — {value.note}")

        def finished() -> None:
            self.campaign_changed.emit(campaign_id)
            self.uploading.pop(campaign_id, None)
            self.progress.setVisible(bool(self.uploading))
            self.refresh()
            if campaign_id in self._upload_again:
                self._upload_again.discard(campaign_id)
                self.upload(campaign_id)

        def done(_: None) -> None:
            self.stalled.pop(campaign_id, None)
            self.message.setText("Uploaded: the agents are sending.")
            finished()

        def failed(exc: Exception) -> None:
            if isinstance(exc, upload.UploadIncomplete):
                self.stalled[campaign_id] = exc.agents
            finished()
            if isinstance(exc, upload.UploadCancelled):
                self.message.setText("Upload stopped; it resumes from where it was.")
            elif isinstance(exc, upload.UploadIncomplete):
                self.message.setText(
                    f"{_names(exc.agents)} could not be reached, so the campaign is not "
                    "sending there yet. The upload continues by itself when "
                    f"{'it is' if len(exc.agents) == 1 else 'they are'} back; "
                    "Retry upload tries now."
                )
            else:
                self.message.setText(
                    "The upload stopped before every recipient reached the agents. It "
                    "resumes from where it was when you press Retry upload or the next "
                    "time Mailfleet starts."
                )

        self.runner.run(
            "Uploading recipients", work, done, on_error=failed, on_progress=progress, network=True
        )

    def stop_uploads(self) -> None:
        """Ask running uploads to stop at the next batch (the window is closing)."""
        for cancel in self.uploading.values():
            cancel.set()

    # -- control ------------------------------------------------------------------------------
    def control(self, action: str) -> None:
        """Pause, resume or cancel the selected campaign on its agents."""
        campaign_id = self.selected()
        if campaign_id is None:
            self.message.setText("Select a campaign first.")
            return
        self.run_control(campaign_id, action)

    def run_control(self, campaign_id: int, action: str) -> None:
        """Send ``action`` to every agent of the campaign in the background; a cancel is
        asked first, saying what it stops."""
        if action == "cancel":
            self._confirm_cancel(campaign_id)
        elif action == "retry":
            self.retry_campaign(campaign_id)
        else:
            self._send_control(campaign_id, action)

    def _confirm_cancel(self, campaign_id: int) -> None:
        row = next((r for r in self.rows if r.id == campaign_id), None)
        name = f"“{row.name}”" if row is not None else "this campaign"
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Cancel the campaign?")
        box.setText(f"Cancel {name}?")
        box.setInformativeText(
            "Its agents stop sending it: recipients who have not received it yet never will, "
            "and any upload still under way stops. An agent that cannot be reached now is "
            "told as soon as it is back. Messages already sent stay sent. "
            "A cancelled campaign cannot be resumed."
        )
        stop = box.addButton("Cancel campaign", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep it", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)

        def clicked(button: object) -> None:
            if button is stop:
                self._send_control(campaign_id, "cancel")

        box.buttonClicked.connect(clicked)
        self.confirm = box
        box.open()

    def _send_control(self, campaign_id: int, action: str) -> None:
        engine, ws = self.engine, self.workspace_id
        if action == "cancel" and campaign_id in self.uploading:
            self.uploading[campaign_id].set()  # nothing more goes to the agents

        def work(task: Task[fleet.ControlResult]) -> fleet.ControlResult:
            if action == "retry":
                return fleet.deliver(engine, ws, campaign_id)
            return fleet.control(engine, ws, campaign_id, action)

        def done(result: fleet.ControlResult) -> None:
            self.message.setText(_control_text(action, result))
            self.refresh()
            self.campaign_changed.emit(campaign_id)

        self.runner.run(
            f"Campaign: {action}",
            work,
            done,
            on_error=lambda e: self.message.setText(explain(e)),
            network=True,
        )

    # -- moving work away from an unreachable agent -------------------------------------------
    def _check_unreachable(self) -> None:
        now = time.monotonic()
        long_gone = [
            r
            for r in self.agents_page.records
            if now - self.agents_page.unreachable_since.get(r.id, now) >= self.move_after
        ]
        current = [self.move_from.itemData(i) for i in range(self.move_from.count())]
        if [r.id for r in long_gone] != current:
            self.move_from.clear()
            for r in long_gone:
                self.move_from.addItem(f"{r.name} ({r.target})", r.id)
        self.move_box.setVisible(bool(long_gone))

    def move_unsent(self) -> None:
        """Move the unreachable agent's unsent recipients of the selected campaign to the
        campaign's other agents (or every other agent), then upload them."""
        campaign_id = self.selected()
        from_agent = self.move_from.currentData()
        if campaign_id is None or from_agent is None:
            self.message.setText("Select the campaign and the unreachable agent.")
            return
        engine, ws = self.engine, self.workspace_id
        unreachable = set(self.agents_page.unreachable_since)

        def work(_task: Task[int | None]) -> int | None:
            return fleet.move_to_reachable(engine, ws, campaign_id, from_agent, unreachable)

        def done(moved: int | None) -> None:
            if moved is None:
                self.message.setText("No other reachable agent can take the recipients over.")
                return
            self.refresh()
            self.upload(campaign_id)
            self.message.setText(f"Moved {counted(moved, 'unsent recipient')}; uploading them now.")

        def failed(exc: Exception) -> None:
            if not isinstance(exc, campaigns.CampaignError):
                raise exc
            self.message.setText(explain(exc))

        self.runner.run("Moving unsent recipients", work, done, on_error=failed, write=True)


_names = campaigns.names_text


def _control_text(action: str, result: fleet.ControlResult) -> str:
    """What a command did, for the message line: who took it, who is still to be told."""
    done = f"{_DONE[action]} on {_names(result.done)}." if result.done else ""
    if not result.failed:
        return done or f"{_DONE[action]}."
    missed = tuple(name for name, _why in result.failed)
    it, is_, gets = ("it", "is", "gets") if len(missed) == 1 else ("they", "are", "get")
    command = "command" if action == "retry" else action
    waiting = (
        f"{_names(missed)} could not be reached: {it} {gets} the {command} as soon as {it} "
        f"{is_} back (Retry tries now)."
    )
    return f"{done} {waiting}".strip()
