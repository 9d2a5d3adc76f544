"""An A/B campaign's results: per variant sent, opened and clicked with their rates over the
whole fleet, whether the leader's lead is more than chance, the winner each agent picked, and
under the manual rule "Send the rest with variant X"."""

from __future__ import annotations

from sqlalchemy import Engine

from mailfleet.desktop.agents import ab_results
from mailfleet.desktop.agents.ab_results import AbResults
from mailfleet.desktop.services.ab_tests import (
    LETTERS,
    Rule,
    fleet_figures,
    verdict_text,
    winner_text,
)
from mailfleet.desktop.ui import confirm
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    isValid,
)
from mailfleet.desktop.ui.tasks import Task, TaskRunner

COLUMNS = ("Variant", "What it tries", "Sent", "Opened", "Open rate", "Clicked", "Click rate")


def _rate(hits: int, sent: int) -> str:
    return f"{hits / sent:.1%}" if sent else "—"


class AbResultsView(QDialog):
    """Asks the campaign's agents for their parts' results when opened and on Refresh."""

    def __init__(
        self,
        engine: Engine,
        workspace_id: int,
        runner: TaskRunner,
        campaign_id: int,
        name: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine, self.workspace_id, self.runner = engine, workspace_id, runner
        self.campaign_id = campaign_id
        self.results: AbResults | None = None
        self.confirm: QMessageBox | None = None
        self.setWindowTitle(f"A/B test: {name}")
        self.resize(760, 420)
        self.heading = QLabel("")
        self.heading.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.verdict = QLabel("Asking the agents…")
        self.verdict.setWordWrap(True)
        self.winner = QLabel("")
        self.winner.setWordWrap(True)
        self.missing = QLabel("")
        self.missing.setWordWrap(True)
        self.missing.setStyleSheet("color: #b00020")
        self.choice = QComboBox()
        self.pick_button = QPushButton("")
        self.pick_button.clicked.connect(self._ask_pick)
        self.choice.currentIndexChanged.connect(self._label_pick)
        self.pick_row = QWidget()
        pick = QHBoxLayout(self.pick_row)
        pick.setContentsMargins(0, 0, 0, 0)
        pick.addWidget(QLabel("You pick the winner:"))
        pick.addWidget(self.choice)
        pick.addWidget(self.pick_button)
        pick.addStretch(1)
        self.pick_row.hide()
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.verdict)
        layout.addWidget(self.winner)
        layout.addWidget(self.missing)
        layout.addWidget(self.pick_row)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)
        layout.addLayout(buttons)
        self.refresh()

    def refresh(self) -> None:
        """Ask every part's agent for its figures and winner."""
        engine, ws, campaign_id = self.engine, self.workspace_id, self.campaign_id

        def work(_task: Task[AbResults]) -> AbResults:
            return ab_results.read(engine, ws, campaign_id)

        self.refresh_button.setEnabled(False)
        self.runner.run("Reading the A/B test", work, self._show, on_error=self._failed,
                        network=True)  # fmt: skip

    def _failed(self, exc: Exception) -> None:
        if isValid(self):
            self.refresh_button.setEnabled(True)
            self.missing.setText(f"Could not read the results: {explain(exc)}")

    def _show(self, results: AbResults) -> None:
        if not isValid(self):
            return  # closed while the agents answered
        self.results = results
        self.refresh_button.setEnabled(True)
        plan = results.plan
        self.heading.setText(plan.heading())
        figures = fleet_figures(results.parts, len(plan.variants))
        self.table.setRowCount(len(figures))
        for row, f in enumerate(figures):
            cells = (
                LETTERS[row],
                plan.describe(row),
                f"{f.sent:,}",
                f"{f.opened:,}",
                _rate(f.opened, f.sent),
                f"{f.clicked:,}",
                _rate(f.clicked, f.sent),
            )
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        # Under the manual rule the marketer picks on clicks: what a person did with the mail.
        self.verdict.setText(
            verdict_text(figures, Rule.CLICKS if plan.rule is Rule.MANUAL else plan.rule)
        )
        self.winner.setText(winner_text(results.parts))
        self.missing.setText(
            "Not answering: " + "; ".join(results.unreachable) if results.unreachable else ""
        )
        undecided = any(p.winner is None for p in results.parts)
        self.pick_row.setVisible(plan.rule is Rule.MANUAL and undecided)
        if self.choice.count() != len(plan.variants):
            self.choice.clear()
            for row in range(len(plan.variants)):
                self.choice.addItem(f"Variant {LETTERS[row]}", row)
        self._label_pick()

    def _label_pick(self, *_: object) -> None:
        letter = LETTERS[max(0, self.choice.currentIndex())]
        self.pick_button.setText(f"Send the rest with variant {letter}")

    def _ask_pick(self) -> None:
        variant = max(0, self.choice.currentIndex())
        letter = LETTERS[variant]
        self.confirm = confirm.ask(
            self,
            "Pick the winner?",
            f"Send the rest of the recipients variant {letter}?",
            "The winner cannot be changed afterwards, and a sent message cannot be called back.",
            f"Send variant {letter}",
            lambda: self._pick(variant),
        )

    def _pick(self, variant: int) -> None:
        engine, ws, campaign_id = self.engine, self.workspace_id, self.campaign_id

        def work(_task: Task[AbResults]) -> AbResults:
            return ab_results.pick_winner(engine, ws, campaign_id, variant)

        self.pick_button.setEnabled(False)

        def done(results: AbResults) -> None:
            if isValid(self):
                self.pick_button.setEnabled(True)
                self._show(results)

        self.runner.run("Picking the A/B winner", work, done, on_error=self._failed,
                        network=True)  # fmt: skip
