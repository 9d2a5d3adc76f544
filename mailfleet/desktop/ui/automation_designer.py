"""The automation designer: the name, who may enter again, the agents that run it, and the
flow (the trigger, then the steps top to bottom) beside the properties of the one selected.
Each step in the flow shows its counts (entered, sent, opened, clicked, exited) of the version
picked under it. It holds no database or agent code: the page reads and saves for it."""

from __future__ import annotations

from functools import partial

from mailfleet.desktop.agents.automation_push import Figures, StepFigures
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.services.automation_design import (
    STEP_KINDS,
    AutomationDesign,
    insert_step,
    remove_step,
    step_text,
    trigger_text,
    welcome_series,
)
from mailfleet.desktop.ui.automation_properties import Choices, PropertiesPanel
from mailfleet.desktop.ui.qt import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)

KIND_NAMES = {"send": "Send an email", "wait": "Wait", "branch": "If… (branch)",
              "tag": "Add or remove a tag or list", "exit": "Exit"}  # fmt: skip


def counts_text(figures: StepFigures) -> str:
    """A step's counts in one line."""
    return (
        f"{figures.entered:,} entered · {figures.sent:,} sent · {figures.opened:,} opened · "
        f"{figures.clicked:,} clicked · {figures.exited:,} exited"
    )


class AutomationDesigner(QWidget):
    """Edits one ``AutomationDesign``; ``design()`` is what to save."""

    edited = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._design = welcome_series()
        self._every_agent = True
        self.choices = Choices()
        self.figures: Figures | None = None
        self.name = QLineEdit()
        self.name.setPlaceholderText("Welcome series")
        self.reentry = QCheckBox("A contact may go through it again (each new signup or event)")
        self.agents = QListWidget()
        self.agents.setMaximumHeight(56)
        head = QFormLayout()
        head.addRow("Name", self.name)
        head.addRow("", self.reentry)
        head.addRow("Run by", self.agents)

        self.flow = QListWidget()
        self.flow.setAccessibleName("Steps of the automation")
        self.flow.setWordWrap(True)
        self.flow.setSpacing(3)
        self.flow.currentRowChanged.connect(self._select)
        self.add = QPushButton("Add step")
        menu = QMenu(self.add)
        for kind in STEP_KINDS:
            menu.addAction(KIND_NAMES[kind], partial(self.add_step, kind))
        self.add.setMenu(menu)
        self.remove = QPushButton("Remove step")
        self.remove.clicked.connect(self.remove_selected)
        self.version = QComboBox()
        self.version.setAccessibleName("Version")
        self.version.setPlaceholderText("not run yet")
        self.version.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.version.currentIndexChanged.connect(lambda _i: self._redraw())
        buttons = QHBoxLayout()
        buttons.addWidget(self.add)
        buttons.addWidget(self.remove)
        buttons.addStretch(1)
        buttons.addWidget(QLabel("Counts of"))
        buttons.addWidget(self.version)
        flow_box = QVBoxLayout()
        flow_box.addWidget(QLabel("<b>Flow</b> (top to bottom)"))
        flow_box.addWidget(self.flow, 1)
        flow_box.addLayout(buttons)

        self.panel = PropertiesPanel()
        self.panel.changed.connect(self._panel_changed)
        panel_box = QVBoxLayout()
        self.panel_title = QLabel("")
        panel_box.addWidget(self.panel_title)
        panel_box.addWidget(self.panel, 1)
        body = QHBoxLayout()
        body.addLayout(flow_box, 3)
        body.addLayout(panel_box, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(body, 1)
        self.name.textEdited.connect(lambda _t: self.edited.emit())
        self.reentry.toggled.connect(lambda _on: self.edited.emit())
        self.show_design(None)

    def set_choices(self, choices: Choices, agents: list[AgentRecord]) -> None:
        """What the properties offer and the agents to choose from (ticks kept)."""
        self.choices = choices
        self.panel.choices = choices
        ticked = set(self._ticked_agents())
        known = {
            int(self.agents.item(i).data(Qt.ItemDataRole.UserRole))
            for i in range(self.agents.count())
        }
        self.agents.clear()
        for record in agents:
            item = QListWidgetItem(record.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            new = record.id not in known and (
                self._every_agent or record.id in self._design.agent_ids
            )
            on = record.id in ticked or new
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            item.setData(Qt.ItemDataRole.UserRole, record.id)
            self.agents.addItem(item)
        self._redraw()

    def _ticked_agents(self) -> list[int]:
        return [
            int(self.agents.item(i).data(Qt.ItemDataRole.UserRole))
            for i in range(self.agents.count())
            if self.agents.item(i).checkState() == Qt.CheckState.Checked
        ]

    def show_design(self, design: AutomationDesign | None, figures: Figures | None = None) -> None:
        """Edit ``design`` (None: a new automation, a welcome series to fill in, run by every
        agent)."""
        self._design = AutomationDesign.from_json(design.to_json()) if design else welcome_series()
        self._every_agent = design is None  # a new automation runs on every agent by default
        self.name.setText(self._design.name)
        self.reentry.setChecked(self._design.allow_reentry)
        for i in range(self.agents.count()):
            item = self.agents.item(i)
            on = design is None or int(item.data(Qt.ItemDataRole.UserRole)) in design.agent_ids
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self.show_figures(figures)
        self.flow.setCurrentRow(0)
        self._select(0)  # the panel edits this design's trigger even when row 0 was current

    def show_figures(self, figures: Figures | None) -> None:
        """Show the agents' counts; the newest version is picked."""
        self.figures = figures
        self.version.blockSignals(True)
        self.version.clear()
        versions = sorted(figures.versions, reverse=True) if figures else []
        for n, version in enumerate(versions):
            self.version.addItem(f"version {version}" + (" (newest)" if n == 0 else ""), version)
        # with a placeholder, a filled combo box picks nothing by itself
        self.version.setCurrentIndex(0 if versions else -1)
        self.version.setEnabled(bool(versions))
        self.version.blockSignals(False)
        self._redraw()

    def design(self) -> AutomationDesign:
        """The design as edited."""
        d = AutomationDesign.from_json(self._design.to_json())
        d.name = self.name.text().strip()
        d.allow_reentry = self.reentry.isChecked()
        d.agent_ids = self._ticked_agents()
        return d

    def add_step(self, kind: str) -> None:
        """Add a step of ``kind`` after the selected one (at the end when the trigger is)."""
        row = self.flow.currentRow()
        at = row if row >= 1 else len(self._design.steps)
        insert_step(self._design.steps, at, kind)
        self._redraw()
        self.flow.setCurrentRow(at + 1)
        self.edited.emit()

    def remove_selected(self) -> None:
        """Remove the selected step (the trigger stays)."""
        row = self.flow.currentRow()
        if row < 1:
            return
        remove_step(self._design.steps, row - 1)
        self._redraw()
        self.flow.setCurrentRow(min(row, self.flow.count() - 1))
        self.edited.emit()

    def _shown_counts(self) -> list[StepFigures] | None:
        version = self.version.currentData()
        if self.figures is None or version is None:
            return None
        return self.figures.versions.get(int(version))

    def _redraw(self) -> None:
        row = self.flow.currentRow()
        self.flow.blockSignals(True)
        self.flow.clear()
        lists = dict(self.choices.lists)
        self.flow.addItem(QListWidgetItem("Start · " + trigger_text(self._design.trigger, lists)))
        names = dict(self.choices.templates)
        counts = self._shown_counts()
        newest = self.version.currentIndex() == 0
        for i in range(len(self._design.steps)):
            text = f"{i + 1}. {step_text(self._design.steps, i, names)}"
            if counts is not None and i < len(counts) and newest:
                text += "\n    " + counts_text(counts[i])
            self.flow.addItem(QListWidgetItem(text))
        if counts is not None and not newest:
            # an earlier version's steps are not the ones designed here: listed apart
            title = QListWidgetItem(f"{self.version.currentText().capitalize()}, as it was:")
            title.setFlags(Qt.ItemFlag.NoItemFlags)
            self.flow.addItem(title)
            for i, figures in enumerate(counts):
                kind = KIND_NAMES.get(figures.kind, figures.kind)
                item = QListWidgetItem(f"{i + 1}. {kind} — {counts_text(figures)}")
                item.setFlags(Qt.ItemFlag.NoItemFlags)
                self.flow.addItem(item)
        # set while blocked: the properties being edited are not reloaded under the cursor
        if 0 <= row < self.flow.count():
            self.flow.setCurrentRow(row)
        self.flow.blockSignals(False)
        self.remove.setEnabled(self.flow.currentRow() >= 1)

    def _select(self, row: int) -> None:
        self.remove.setEnabled(row >= 1)
        if row == 0:
            self.panel_title.setText("<b>Start</b>")
            self.panel.show_trigger(self._design.trigger)
        elif 1 <= row <= len(self._design.steps):
            kind = self._design.steps[row - 1].kind
            self.panel_title.setText(f"<b>Step {row}: {KIND_NAMES[kind]}</b>")
            self.panel.show_step(self._design.steps, row - 1)

    def _panel_changed(self) -> None:
        self._redraw()
        self.edited.emit()
