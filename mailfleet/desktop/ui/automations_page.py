"""The Automations page: the workspace's automations with their state, the designer, and
Save / Activate / Pause.

The agents run automations (the desktop may be closed for days). Saving writes the design and
the definition built from it to the desktop database; then, on a network thread, each chosen
agent gets what it is behind on (``mailfleet.desktop.agents.automation_push``): a changed
definition becomes its next version, and contacts already in a step finish on the version
they entered with. The per-step counts are read from the agents the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from sqlalchemy import Connection, Engine

from mailfleet.desktop.agents import automation_push, registry
from mailfleet.desktop.agents.automation_push import Figures, PushResult
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.db.models import FieldType
from mailfleet.desktop.services import automations, fields, workspaces
from mailfleet.desktop.services.automation_design import DesignError
from mailfleet.desktop.services.automations import AutomationSummary
from mailfleet.desktop.services.plurals import counted
from mailfleet.desktop.services.signup_forms import BUILTIN_FIELDS
from mailfleet.desktop.services.templates import list_templates
from mailfleet.desktop.ui.automation_designer import AutomationDesigner
from mailfleet.desktop.ui.automation_properties import Choices
from mailfleet.desktop.ui.empty_state import EmptyState
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)
from mailfleet.desktop.ui.tasks import Latest, TaskRunner

NO_AUTOMATIONS = (
    "<h3>No automation yet</h3><p>An automation sends mail by itself: a welcome series after "
    "a signup, a follow-up after an order, a birthday greeting. Your agents run it, so it "
    "works while this app is closed.</p>"
)

ACTIVATED = "Active: contacts who meet its start enter it."
PAUSED = "Paused: nobody enters or moves on until you activate it again."


@dataclass(frozen=True)
class _Read:
    automations: list[AutomationSummary]
    choices: Choices
    agents: list[AgentRecord]


def _choices(conn: Connection, workspace_id: int) -> Choices:
    specs = fields.list_fields(conn, workspace_id)
    return Choices(
        templates=[(t.id, t.name) for t in list_templates(conn, workspace_id)],
        lists=workspaces.lists(conn, workspace_id),
        fields=[*BUILTIN_FIELDS, *((s.key, s.label) for s in specs)],
        date_fields=[(s.key, s.label) for s in specs if s.type == FieldType.DATE],
    )


def state_text(summary: AutomationSummary) -> str:
    """An automation's state on the list: its name, then "active · version 2"."""
    where = f"version {summary.version}" if summary.version else "not on an agent yet"
    return f"{summary.design.name}\n{'active' if summary.active else 'paused'} · {where}"


def agents_text(summary: AutomationSummary, unreachable: dict[int, str]) -> str:
    """Where the automation stands on each of its agents, one line each."""
    if not summary.agents:
        return "Not running anywhere: tick an agent under Run by."
    lines = []
    for a in summary.agents:
        if a.error:
            lines.append(f"{a.agent_name}: not updated, {a.error}.")
        elif a.agent_id in unreachable and not a.up_to_date:
            lines.append(f"{a.agent_name}: cannot be reached; it gets the change when it is back.")
        elif a.up_to_date:
            state = "running" if summary.active else "paused"
            lines.append(f"{a.agent_name}: {state}, version {a.version}.")
        else:
            lines.append(f"{a.agent_name}: updating…")
    return "\n".join(lines)


def version_text(in_progress: int) -> str:
    """What saving a changed automation did, for the contacts already in it."""
    text = "Saved as a new version: new contacts start on it"
    if in_progress == 0:
        return text + "."
    verb = "finishes" if in_progress == 1 else "finish"
    return (
        f"{text}; the {counted(in_progress, 'contact')} already in it {verb} on the version "
        "they entered with."
    )


class AutomationsPage(QWidget):
    """The automations on the left; the designer and its actions on the right."""

    def __init__(self, engine: Engine, workspace_id: int, runner: TaskRunner) -> None:
        super().__init__()
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.automations: list[AutomationSummary] = []
        self.current: int | None = None
        self.unreachable: dict[int, str] = {}
        self.figures: Figures | None = None
        self._reopen = False
        self._latest = Latest()
        self._latest_figures = Latest()

        self.list = QListWidget()
        self.list.setAccessibleName("Automations")
        self.list.currentRowChanged.connect(self._open)
        self.empty = EmptyState(self.list, NO_AUTOMATIONS, "New automation")
        self.empty.button.clicked.connect(self.new)
        new = QPushButton("New automation")
        new.clicked.connect(self.new)
        left = QWidget()
        left.setMinimumWidth(220)
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(QLabel("<h2>Automations</h2>"))
        left_layout.addWidget(self.list, 1)
        left_layout.addWidget(new)

        self.designer = AutomationDesigner()
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        self.activate_button = QPushButton("Activate")
        self.activate_button.clicked.connect(lambda: self.set_active(True))
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(lambda: self.set_active(False))
        self.counts_button = QPushButton("Update counts")
        self.counts_button.clicked.connect(self.read_figures)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        actions = QHBoxLayout()
        for button in (self.save_button, self.activate_button, self.pause_button,
                       self.counts_button):  # fmt: skip
            actions.addWidget(button)
        actions.addWidget(self.message, 1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.designer, 1)
        right_layout.addLayout(actions)
        right_layout.addWidget(self.status)

        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([250, 900])
        QVBoxLayout(self).addWidget(split)
        self._buttons()
        self.refresh()

    def _summary(self) -> AutomationSummary | None:
        return next((a for a in self.automations if a.id == self.current), None)

    def refresh(self) -> None:
        """Re-read the automations and what the designer offers, in the background."""
        ws = self.workspace_id

        def read(conn: Connection) -> _Read:
            return _Read(
                automations.list_automations(conn, ws),
                _choices(conn, ws),
                registry.list_agents(conn, ws),
            )

        self.runner.read(self.engine, "Reading automations", read, self._latest.only(self._show))

    def _show(self, read: _Read) -> None:
        self.automations = read.automations
        self.empty.set_shown(not self.automations)
        self.list.blockSignals(True)
        self.list.clear()
        self.list.addItems([state_text(a) for a in self.automations])
        row = next((i for i, a in enumerate(self.automations) if a.id == self.current), -1)
        self.list.setCurrentRow(row)
        self.list.blockSignals(False)
        self.designer.set_choices(read.choices, read.agents)
        saved = self._summary()
        if self._reopen and saved is not None:
            self._reopen = False
            self.designer.show_design(saved.design, self.figures)
        self._buttons()

    def _buttons(self) -> None:
        saved = self._summary()
        self.activate_button.setEnabled(saved is not None and not saved.active)
        self.pause_button.setEnabled(saved is not None and saved.active)
        self.counts_button.setEnabled(saved is not None)
        self.status.setText(agents_text(saved, self.unreachable) if saved else "Not saved yet.")

    def _open(self, row: int) -> None:
        if not 0 <= row < len(self.automations):
            return
        summary = self.automations[row]
        self.current = summary.id
        self.figures = None
        self.designer.show_design(summary.design)
        self.message.setText("")
        self._buttons()
        self.read_figures()

    def new(self) -> None:
        """Start a new automation: a welcome series to fill in."""
        self.current = None
        self.figures = None
        self.list.clearSelection()
        self.designer.show_design(None)
        self.message.setText("")
        self._buttons()

    def save(self) -> None:
        """Save the design (on the write worker), then update its agents."""
        ws, current, design = self.workspace_id, self.current, self.designer.design()
        in_progress = self.figures.in_progress if self.figures else 0

        def saved(result: tuple[int, bool]) -> None:
            self.current, changed = result
            self._reopen = True
            self.message.setText(version_text(in_progress) if changed else "Saved.")
            self.push()

        def failed(exc: Exception) -> None:
            text = explain(exc) if isinstance(exc, DesignError) else "Could not save."
            self.message.setText(f"Not saved: {text}")

        self.runner.write(
            self.engine,
            "Saving an automation",
            lambda c: automations.save(c, ws, design, current),
            saved,
            on_error=failed,
        )

    def set_active(self, active: bool) -> None:
        """Activate or pause the open automation on its agents."""
        ws, current = self.workspace_id, self.current
        if current is None:
            return

        def done(_none: None) -> None:
            self.message.setText(ACTIVATED if active else PAUSED)
            self.push()

        self.runner.write(
            self.engine,
            "Activating an automation" if active else "Pausing an automation",
            lambda c: automations.set_active(c, ws, current, active),
            done,
        )

    def push(self) -> None:
        """Give every agent what it is behind on, on network threads; then re-read."""
        ws, engine = self.workspace_id, self.engine

        def run(_task: object) -> dict[int, PushResult | str]:
            with engine.connect() as conn:
                records = registry.list_agents(conn, ws)
            results: dict[int, PushResult | str] = {}
            for record in records:
                try:
                    results[record.id] = automation_push.push(engine, ws, record)
                except grpc.RpcError as exc:  # an agent down is shown, and tried again later
                    results[record.id] = explain(exc)
                except registry.AgentError as exc:
                    results[record.id] = explain(exc)
            return results

        self.runner.run("Updating automations on the agents", run, self._pushed, network=True)

    def _pushed(self, results: dict[int, PushResult | str]) -> None:
        for agent_id, result in results.items():
            if isinstance(result, str):
                self.unreachable[agent_id] = result
            else:
                self.unreachable.pop(agent_id, None)
        self.refresh()
        self.read_figures()

    def read_figures(self) -> None:
        """Ask the agents for the open automation's per-step counts."""
        summary = self._summary()
        if summary is None:
            return
        ws, engine = self.workspace_id, self.engine
        self.runner.run(
            "Reading an automation's counts",
            lambda _t: automation_push.figures(engine, ws, summary),
            self._latest_figures.only(self._show_figures),
            network=True,
        )

    def _show_figures(self, figures: Figures) -> None:
        self.figures = figures
        self.designer.show_figures(figures)
        if figures.unreachable:
            self.message.setText(
                "Counts without " + ", ".join(figures.unreachable) + ": cannot be reached."
            )
