"""The pre-send checks panel: each finding with its fix, errors (which block sending) first,
under a one-line summary; shared by the templates page and the campaign wizard's review page."""

from __future__ import annotations

from html import escape

from mailfleet.desktop.services.content_checks import Finding
from mailfleet.desktop.services.plurals import counted, plural
from mailfleet.desktop.ui.qt import QApplication, QFrame, QLabel, QPalette, Qt, QVBoxLayout

MARKS = {"error": "✖", "warning": "⚠"}


def summary(findings: list[Finding]) -> str:
    """ "✖ 2 errors block sending · ⚠ 1 warning", or "✔ All checks passed."."""
    errors = sum(f.blocks for f in findings)
    warnings = len(findings) - errors
    parts = []
    if errors:
        parts.append(f"✖ {counted(errors, 'error')} {plural(errors, 'blocks', 'block')} sending")
    if warnings:
        parts.append(f"⚠ {counted(warnings, 'warning')}")
    return " · ".join(parts) or "✔ All checks passed."


class ChecksPanel(QFrame):
    """The findings of the checks, or what is being checked while they run."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("card")
        self.findings: list[Finding] | None = None  # None while the checks run
        self.title = QLabel("<b>Checks</b>")
        self.list = QLabel("")
        self.list.setWordWrap(True)
        self.list.setTextFormat(Qt.TextFormat.RichText)
        self.list.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addWidget(self.title)
        layout.addWidget(self.list)

    def show_pending(self, what: str = "Checking the content…") -> None:
        """Say the checks are running; nothing is known until they end."""
        self.findings = None
        self.title.setText("<b>Checks</b>")
        self.list.setText(escape(what))

    def show_findings(self, findings: list[Finding]) -> None:
        """Show these findings, each with its fix in the muted colour below it."""
        self.findings = findings
        self.title.setText(f"<b>Checks</b> — {escape(summary(findings))}")
        muted = QApplication.palette().color(QPalette.ColorRole.PlaceholderText).name()
        self.list.setText(
            "".join(
                f"<p>{MARKS[f.level]} {escape(f.message)}"
                + (f"<br><span style='color:{muted}'>{escape(f.fix)}</span>" if f.fix else "")
                + "</p>"
                for f in findings
            )
        )

    def blocked(self) -> bool:
        """Whether sending must wait: the checks are running or found an error."""
        return self.findings is None or any(f.blocks for f in self.findings)

    def text(self) -> str:
        """Everything the panel says, as plain text (what a screen reader reads)."""
        if self.findings is None:
            return self.list.text()
        lines = [summary(self.findings)]
        lines += [f"{MARKS[f.level]} {f.message} {f.fix}".rstrip() for f in self.findings]
        return "\n".join(lines)
