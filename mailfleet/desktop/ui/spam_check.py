"""The spam score in the window: the workspace's SpamAssassin setting (Settings page), and the
score of the message being written (templates page, the wizard's review), with the rules that
fired in plain words. spamd is asked on a background task; nothing waits for it on screen. The
templates page asks again shortly after each edit (``schedule``); an answer about an older
version of the message than the newest asked is dropped."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from sqlalchemy import Engine

from mailfleet.desktop.agents import spamd
from mailfleet.desktop.services import spamd_setting
from mailfleet.desktop.services.spam_report import SpamReport
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.notice import Notice
from mailfleet.desktop.ui.qt import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
    isValid,
)
from mailfleet.desktop.ui.tasks import Latest, Task, TaskRunner

NOT_SET_UP = "Spam score: not set up (give a SpamAssassin spamd's address under Settings)."
SHOWN_RULES = 6
# How long after the last edit the message is scored again: spamd takes a second or more per
# message, so it is asked once typing pauses, not at every key.
RESCORE_DELAY_MS = 1500


def report_text(report: SpamReport) -> str:
    """The score and the rules that cost points, as the panel shows them (rich text). Over the
    line is a warning, never an error: SpamAssassin is one filter among many."""
    verdict = (
        f"⚠ <b>Spam score {report.score:.1f}</b>: {report.threshold:.1f} or more counts as spam."
        if report.is_spam
        else f"✔ <b>Spam score {report.score:.1f}</b>, under SpamAssassin's {report.threshold:.1f}."
    )
    costly = [r for r in report.rules if r.points > 0][:SHOWN_RULES]
    rules = "".join(
        f"<br>{r.points:+.1f} {escape(r.meaning)} <small>({escape(r.name)})</small>" for r in costly
    )
    return verdict + rules


class SpamScore(QWidget):
    """A "Check spam score" button and what SpamAssassin said; ``message`` renders the message
    to score (called on the background task). ``scored`` is emitted with each report shown."""

    scored = Signal(object)

    def __init__(
        self,
        engine: Engine,
        workspace_id: int,
        runner: TaskRunner,
        message: Callable[[], Callable[[], bytes]],
    ) -> None:
        super().__init__()
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.message = message
        self.report: SpamReport | None = None
        self._answers = Latest()
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(RESCORE_DELAY_MS)
        self.timer.timeout.connect(self.check)
        self.button = QPushButton("Check spam score")
        self.button.clicked.connect(self.check)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.TextFormat.RichText)
        # Label above button: a wrapped label beside a button breaks the height-for-width of
        # the form it sits in (the review page's rows were clipped).
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.result)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignLeft)

    def schedule(self) -> None:
        """Score the message again once edits have stopped for :data:`RESCORE_DELAY_MS`."""
        self.timer.start()

    def check(self) -> None:
        """Read the workspace's spamd address, then ask it to score the message."""
        self.timer.stop()
        ws = self.workspace_id
        render = self.message()  # the content as it is now, read on the GUI thread
        answer = self._answers.only(self._show)
        if self.report is None:  # a score already shown stays until the new one comes
            self.result.setText("Asking SpamAssassin…")
        self.runner.read(
            self.engine,
            "Reading the spam check's setting",
            lambda c: spamd_setting.spamd_address(c, ws),
            lambda address: self._ask(address, render, answer),
        )

    def _ask(
        self,
        address: str,
        render: Callable[[], bytes],
        answer: Callable[[SpamReport | str], None],
    ) -> None:
        if not address or not isValid(self):
            answer(escape(NOT_SET_UP, quote=False))
            return

        def work(_task: Task[SpamReport]) -> SpamReport:
            return spamd.score(address, render())

        def failed(exc: Exception) -> None:
            unreachable = isinstance(exc, spamd.SpamdUnavailable)
            why = explain(exc) if unreachable else "it cannot be rendered."
            answer(f"Spam score: not known. {escape(why)}")

        self.runner.run("Asking SpamAssassin for a score", work, answer,
                        on_error=failed, network=True)  # fmt: skip

    def _show(self, answer: SpamReport | str) -> None:
        """Show the newest answer: a report, or why there is none."""
        if not isValid(self):  # the page was closed while spamd was asked
            return
        if isinstance(answer, str):
            self.report = None
            self.result.setText(answer)
            return
        self.report = answer
        self.result.setText(report_text(answer))
        self.scored.emit(answer)


class SpamdSetting(QWidget):
    """Where the workspace's SpamAssassin spamd runs (host:port), or empty for none."""

    def __init__(self, engine: Engine, workspace_id: int, runner: TaskRunner) -> None:
        super().__init__()
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.address = QLineEdit()
        self.address.setAccessibleName("SpamAssassin server address")
        self.address.setPlaceholderText("none: e.g. 127.0.0.1:783")
        self.address.setEnabled(False)  # until the saved value has been read
        save = QPushButton("Save")
        save.clicked.connect(self.save)
        self.saved = Notice()
        note = QLabel(
            "A SpamAssassin spamd the checks ask to score each message before it is sent "
            "(Debian: apt install spamd). Empty: no spam score."
        )
        note.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.address, 1)
        row.addWidget(save)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(note)
        layout.addWidget(self.saved)
        ws = workspace_id
        runner.read(engine, "Reading settings",
                    lambda c: spamd_setting.spamd_address(c, ws), self._loaded)  # fmt: skip

    def _loaded(self, address: str) -> None:
        self.address.setText(address)
        self.address.setEnabled(True)

    def save(self) -> None:
        """Keep the address (checked first)."""
        address, ws = self.address.text().strip(), self.workspace_id
        if address:
            try:
                spamd_setting.parse_address(address)
            except ValueError as exc:
                self.saved.setText(f"Not saved: {explain(exc)}.")
                return
        said = f"Saved: messages are scored by {address}." if address else "Saved: no spam score."
        self.runner.write(
            self.engine,
            "Saving settings",
            lambda c: spamd_setting.set_spamd_address(c, ws, address),
            lambda _: self.saved.flash(said),
            on_error=lambda _e: self.saved.setText("Not saved: the database could not be written."),
        )
