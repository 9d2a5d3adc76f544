"""The Agents page: pair agents, see their live status, start a local agent, read captured mail."""

from __future__ import annotations

from html import escape
from pathlib import Path

from sqlalchemy import Engine

from mailfleet.agent.client.localagent import LocalAgent
from mailfleet.desktop.agents import localagent, registry
from mailfleet.desktop.agents.delivery_mode import DeliveryMode, delivery_mode
from mailfleet.desktop.agents.registry import AgentRecord, AgentStatus, SendingDomain
from mailfleet.desktop.services import secrets
from mailfleet.desktop.services.people import Action, NotAllowed
from mailfleet.desktop.ui import roles
from mailfleet.desktop.ui.capture_viewer import CaptureViewer
from mailfleet.desktop.ui.domains_dialog import SendingDomainsDialog
from mailfleet.desktop.ui.fleet_sync import FleetSync
from mailfleet.desktop.ui.messages import UNREACHABLE, explain, plain, sync_state
from mailfleet.desktop.ui.paused_dialog import PausedDialog
from mailfleet.desktop.ui.qt import (
    QAbstractItemView,
    QBrush,
    QColor,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from mailfleet.desktop.ui.tasks import Task, TaskRunner

COLUMNS = (
    "Name",
    "Address",
    "Status",
    "Version",
    "Queue",
    "Rate /min",
    "Event sync",
    "Sending domains",
    "Delivery",
)
POLL_MS = 5000
DOMAINS_COLUMN = COLUMNS.index("Sending domains")
# Mail from a domain the agent does not sign fails DKIM (and DMARC, unless SPF aligns).
WARNING = "#b35900"
NO_DOMAINS = "none yet (add one under “Sending domains…”)"
LOCAL_PAIRED = (
    "The local agent runs on this computer. Its mail is kept in the capture mailbox: nothing "
    "leaves this machine. Open “Captured mail…” to read it."
)
DELIVERY_TEXT = {
    DeliveryMode.CAPTURE: "capture — nothing leaves this machine",
    DeliveryMode.REAL: "real delivery",
    DeliveryMode.UNKNOWN: "",
}


def domains_text(domains: tuple[SendingDomain, ...] | None) -> str:
    """The sending-domains cell: each domain with its DKIM state."""
    if domains is None:
        return "not reported by this agent version"
    return "; ".join(d.describe() for d in domains) or NO_DOMAINS


def domain_html(domain: SendingDomain) -> str:
    """One domain for the detail panel, in the warning colour when nothing signs its mail."""
    text = escape(domain.describe())
    if domain.unsigned:
        return (
            f'<span style="color:{WARNING}">{text}: mail from it goes out unsigned; create its '
            "key under “Sending domains…” and publish its record</span>"
        )
    return text


class AgentsPage(QWidget):
    """Paired agents with live status, pairing, the local agent and the capture viewer."""

    paired = Signal(object)
    # The paired agents as just read from the database (a list of AgentRecord).
    loaded = Signal(object)

    def __init__(
        self,
        engine: Engine,
        workspace_id: int,
        runner: TaskRunner,
        sync: FleetSync,
        local_dir: Path | None = None,
        running_local: Path | None = None,
    ) -> None:
        """``running_local`` is the data directory of a local agent someone else started and
        stops (``make run``): the page pairs it and never starts a second one."""
        super().__init__()
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.sync = sync
        self.local_dir = local_dir or localagent.default_dir()
        self.local: LocalAgent | None = None
        self.running_local = running_local.resolve() if running_local else None
        self.delivery: dict[int, DeliveryMode] = {}
        self._attach_pending = self.running_local is not None  # pair it once the list is read
        self.records: list[AgentRecord] = []
        self.status: dict[int, AgentStatus] = {}
        self.rates: dict[int, float] = {}
        self.unreachable_since: dict[int, float] = {}
        self._polling = False
        self._resume_local = False
        self._read_once = False

        self.pairing = QLineEdit()
        self.pairing.setAccessibleName("Pairing string")
        self.pairing.setPlaceholderText("Paste a pairing string: mailfleet://host:port?fp=…&key=…")
        self.name = QLineEdit()
        self.name.setAccessibleName("Agent name")
        self.name.setPlaceholderText("Name (optional)")
        self.name.setMaximumWidth(200)
        self.add_button = QPushButton("Pair agent")
        self.add_button.clicked.connect(self.pair)
        self.local_button = QPushButton("Start a local agent")
        self.local_button.setToolTip(
            "Runs an agent on this computer whose mail stays in its capture mailbox"
        )
        self.local_button.clicked.connect(self.start_local)
        if self.running_local is not None:
            self.local_button.setText("Pair the running local agent")
        # After a refusal that the user can fix outside the app (the keyring): do it again.
        self.retry_button = QPushButton("Try again")
        self.retry_button.hide()
        self.retry_button.clicked.connect(self._retry)
        self._last_action = self.start_local
        self.capture_button = QPushButton("Captured mail…")
        self.capture_button.clicked.connect(self.open_capture)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove)
        roles.guard(self.remove_button, engine, Action.MANAGE_AGENTS)
        self.domains_button = QPushButton("Sending domains…")
        self.domains_button.setToolTip("Add a domain, create its DKIM key, check its DNS")
        self.domains_button.clicked.connect(self.open_domains)
        self.domains_dialog: SendingDomainsDialog | None = None
        self.paused_button = QPushButton("Paused destinations…")
        self.paused_button.setToolTip(
            "Recipient domains and routes whose mail the agent holds back; resume them"
        )
        self.paused_button.clicked.connect(self.open_paused)
        self.paused_dialog: PausedDialog | None = None
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setAccessibleName("Agents")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.empty = QLabel(
            "No agent is paired yet. Paste the pairing string printed by "
            "<code>mailfleet-agent init</code> on your send server, or start a local agent: "
            "it keeps every message in its capture mailbox, so nobody is mailed by accident."
        )
        self.empty.setWordWrap(True)
        self.empty.hide()
        # The selected agent's sending domains, one a line, each with its DKIM state.
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.table.itemSelectionChanged.connect(self._show_details)

        top = QHBoxLayout()
        top.addWidget(self.pairing, 1)
        top.addWidget(self.name)
        top.addWidget(self.add_button)
        buttons = QHBoxLayout()
        for button in (
            self.local_button,
            self.capture_button,
            self.domains_button,
            self.paused_button,
            self.remove_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Agents</h2>"))
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(self.retry_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addLayout(buttons)

        self.sync.agent_state.connect(lambda _i, _s: self._fill())
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.timer.start()
        self.refresh()

    # -- data ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload the agent list from the database (in the background), then poll them."""
        if not self._read_once:
            self.message.setText("Loading…")
        ws = self.workspace_id
        self.runner.read(
            self.engine, "Reading agents", lambda c: registry.list_agents(c, ws), self._loaded
        )

    def _loaded(self, records: list[AgentRecord]) -> None:
        if not self._read_once:
            self._read_once = True
            self.message.setText("")
        self.records = records
        self.empty.setVisible(not self.records)
        has_local = self.local is not None or any(r.local_dir for r in self.records)
        # One local agent is enough: a second would split campaigns between two capture boxes.
        self.local_button.setVisible(not has_local)
        self.local_button.setEnabled(
            not has_local and roles.allowed(self.engine, Action.MANAGE_AGENTS)
        )
        self._fill()
        self.poll()
        self.loaded.emit(records)
        if self._resume_local:
            self._resume_local = False
            self._start_paired_local()
        # One local agent at a time: with one of the desktop's own paired already, make run's
        # is left unpaired rather than have campaigns split between two capture mailboxes.
        if self._attach_pending and not any(r.local_dir for r in self.records):
            self.start_local()
        self._attach_pending = False

    def _is_running_local(self, record: AgentRecord) -> bool:
        return bool(
            self.running_local
            and record.local_dir
            and Path(record.local_dir).resolve() == self.running_local
        )

    def poll(self) -> None:
        """Ask every agent for its status, in the background."""
        if self._polling or not self.records:
            return
        self._polling = True
        records = list(self.records)

        def work(
            task: Task[list[tuple[AgentStatus, DeliveryMode]]],
        ) -> list[tuple[AgentStatus, DeliveryMode]]:
            found = [(r, registry.status(r)) for r in records]
            return [(st, delivery_mode(r) if st.reachable else DeliveryMode.UNKNOWN)
                    for r, st in found]  # fmt: skip

        self.runner.run(
            "Checking agents", work, self._polled, on_error=self._poll_failed, network=True
        )

    def _poll_failed(self, exc: Exception) -> None:
        self._polling = False
        self.message.setText(f"Could not check the agents: {explain(exc)}")

    def _polled(self, statuses: list[tuple[AgentStatus, DeliveryMode]]) -> None:
        self._polling = False
        # The key store went away since pairing (locked, or not started): say so once, plainly.
        keyless = next((st for st, _ in statuses if st.no_keyring), None)
        if keyless is not None:
            self.message.setText(f"<b>The agents cannot be reached yet.</b> {keyless.error}")
            self.retry_button.show()
            self._last_action = self.poll
        elif self._last_action == self.poll:
            self.retry_button.hide()
            self._last_action = self.start_local
            self.message.setText("")
        for st, mode in statuses:
            self.delivery[st.agent_id] = mode
            self.rates[st.agent_id] = st.rate_per_minute(self.status.get(st.agent_id))
            self.status[st.agent_id] = st
            if st.reachable:
                self.unreachable_since.pop(st.agent_id, None)
            else:
                self.unreachable_since.setdefault(st.agent_id, st.at)
        self._fill()

    def _fill(self) -> None:
        self.table.setRowCount(len(self.records))
        for row, record in enumerate(self.records):
            st = self.status.get(record.id)
            if st is None:
                health, version, queue, rate = "checking…", "", "", ""
            elif st.reachable:
                health, version = st.health, st.version
                queue, rate = f"{st.queue_depth:,}", f"{self.rates.get(record.id, 0.0):,.0f}"
            else:
                health, version, queue, rate = st.health, "", "", ""
            found = st.domains if st is not None and st.reachable else None
            domains = "" if st is None or not st.reachable else domains_text(found)
            cells = (
                record.name + (" (local)" if record.local_dir else ""),
                record.target,
                health,
                version,
                queue,
                rate,
                sync_state(self.sync.states.get(record.id, "starting")),
                domains,
                DELIVERY_TEXT[self.delivery.get(record.id, DeliveryMode.UNKNOWN)],
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if st is not None and not st.reachable:
                    item.setToolTip(plain(st.error, UNREACHABLE))
                    if column == 2:
                        item.setForeground(QBrush(QColor("#b00020")))
                if column == DOMAINS_COLUMN and found:
                    item.setToolTip("\n".join(d.describe() for d in found))
                    if any(d.unsigned for d in found):
                        item.setForeground(QBrush(QColor(WARNING)))
                self.table.setItem(row, column, item)
        self._show_details()

    def _show_details(self) -> None:
        record = self.selected() or (self.records[0] if len(self.records) == 1 else None)
        st = self.status.get(record.id) if record is not None else None
        if record is None or st is None or not st.reachable or not st.domains:
            self.details.setText("")
            return
        lines = "".join(f"<li>{domain_html(d)}</li>" for d in st.domains)
        self.details.setText(f"<b>Sending domains of {escape(record.name)}</b><ul>{lines}</ul>")

    def selected(self) -> AgentRecord | None:
        """The agent of the selected row."""
        rows = self.table.selectionModel().selectedRows()
        return self.records[rows[0].row()] if rows else None

    # -- actions ------------------------------------------------------------------------------
    def pair(self) -> None:
        """Pair the agent of the pasted pairing string (network work in the background)."""
        text, name = self.pairing.text(), self.name.text()
        if not text.strip():
            self.message.setText("Paste the agent's pairing string first.")
            return
        self.add_button.setEnabled(False)
        self.retry_button.hide()
        self._last_action = self.pair
        self.message.setText("Pairing…")

        def work(task: Task[AgentRecord]) -> AgentRecord:
            return registry.pair(self.engine, self.workspace_id, text, name)

        self.runner.run(
            "Pairing an agent", work, self._paired, on_error=self._pair_failed, network=True
        )

    def _paired(self, record: AgentRecord) -> None:
        self.add_button.setEnabled(True)
        self.pairing.clear()
        self.name.clear()
        self.message.setText(f"Paired {record.name} ({record.target}).")
        self.sync.follow(record)
        self.paired.emit(record)
        self.refresh()

    def _pair_failed(self, exc: Exception) -> None:
        self.add_button.setEnabled(True)
        self.local_button.setEnabled(self.local is None)
        self.retry_button.setVisible(isinstance(exc, secrets.KeyringUnavailable))
        if isinstance(exc, secrets.KeyringUnavailable):
            self.message.setText(f"<b>Not paired yet.</b> {explain(exc)}")
        elif isinstance(exc, registry.FingerprintMismatch):
            self.message.setText(
                "<b>Refused: certificate mismatch.</b> The agent is not the one the pairing "
                "string names (or its certificate was replaced); ask its operator for a fresh "
                "pairing string."
            )
        else:
            self.message.setText(f"<b>Not paired.</b> {explain(exc)}")

    def _retry(self) -> None:
        self.retry_button.hide()
        self._last_action()

    def start_local(self) -> None:
        """Pair the local agent (its default route is the capture mailbox): the one already
        running when there is one (``make run``), else one started now."""
        self.local_button.setEnabled(False)
        self.retry_button.hide()
        self._last_action = self.start_local
        if self.running_local is not None:
            self._attach_local(self.running_local)
            return
        self.message.setText("Starting the local agent…")
        data_dir = self.local_dir

        def work(task: Task[tuple[LocalAgent, AgentRecord]]) -> tuple[LocalAgent, AgentRecord]:
            return localagent.start_and_pair(self.engine, self.workspace_id, data_dir)

        def done(result: tuple[LocalAgent, AgentRecord]) -> None:
            self.local = result[0]
            self._paired(result[1])
            self.message.setText(LOCAL_PAIRED)

        self.runner.run(
            "Starting the local agent", work, done, on_error=self._pair_failed, network=True
        )

    def _attach_local(self, data_dir: Path) -> None:
        self.message.setText("Pairing the local agent…")

        def work(task: Task[AgentRecord]) -> AgentRecord:
            return localagent.attach(self.engine, self.workspace_id, data_dir)

        def done(record: AgentRecord) -> None:
            self._paired(record)
            self.message.setText(LOCAL_PAIRED)

        self.runner.run(
            "Pairing the local agent", work, done, on_error=self._pair_failed, network=True
        )

    def resume_local(self) -> None:
        """Start the paired local agent again (at app start), in the background, once the
        agents are read."""
        if self._read_once:
            self._start_paired_local()
        else:
            self._resume_local = True

    def _start_paired_local(self) -> None:
        # An agent someone else runs (make run) is theirs to start and stop.
        record = next(
            (r for r in self.records if r.local_dir and not self._is_running_local(r)), None
        )
        if record is None or self.local is not None or record.local_dir is None:
            return
        data_dir = Path(record.local_dir)

        def work(task: Task[LocalAgent]) -> LocalAgent:
            return localagent.start(data_dir)

        def done(local: LocalAgent) -> None:
            self.local = local
            self.poll()

        self.runner.run(
            "Starting the local agent", work, done, on_error=self._pair_failed, network=True
        )

    def shutdown(self) -> None:
        """Stop polling and following, and stop the local agent (the window is closing)."""
        self.timer.stop()
        self.sync.stop_all()
        if self.local is not None:
            self.local.stop()
            self.local = None

    def open_capture(self) -> CaptureViewer | None:
        """Open the captured-mail viewer for the selected (or the local) agent."""
        record = self.selected() or next((r for r in self.records if r.local_dir), None)
        if record is None:
            self.message.setText("Select an agent to read its captured mail.")
            return None
        viewer = CaptureViewer(record, self.runner, self)
        viewer.show()
        return viewer

    def _chosen(self, asking: str) -> AgentRecord | None:
        """The selected agent, or the only one; else None, saying ``asking``."""
        record = self.selected() or (self.records[0] if len(self.records) == 1 else None)
        if record is None:
            self.message.setText(asking)
        return record

    def open_domains(self) -> SendingDomainsDialog | None:
        """Open the sending domains of the selected agent (or of the only one); the agents'
        DKIM state is read again when it closes."""
        record = self._chosen("Select the agent whose sending domains to manage.")
        if record is None:
            return None
        dialog = SendingDomainsDialog(record, self.runner, self)
        dialog.finished.connect(lambda _result: self.poll())
        self.domains_dialog = dialog
        dialog.show()
        return dialog

    def open_paused(self) -> PausedDialog | None:
        """Open the paused destinations of the selected agent (or of the only one)."""
        record = self._chosen("Select the agent whose paused destinations to see.")
        if record is None:
            return None
        dialog = PausedDialog(record, self.runner, self)
        self.paused_dialog = dialog
        dialog.show()
        return dialog

    def remove(self) -> None:
        """Unpair the selected agent."""
        record = self.selected()
        if record is None:
            self.message.setText("Select the agent to remove.")
            return
        ws = self.workspace_id

        def work(_task: Task[None]) -> None:
            registry.remove(self.engine, ws, record.id)

        def done(_: None) -> None:
            self.sync.forget(record.id)
            self.message.setText(f"Removed {record.name}.")
            self.refresh()

        def failed(exc: Exception) -> None:
            if not isinstance(exc, registry.AgentError | NotAllowed):
                raise exc
            self.message.setText(explain(exc))

        self.runner.run("Removing an agent", work, done, on_error=failed, write=True)
