"""The contacts view on a big workspace, as a person uses it: the real Contacts page, shown,
scrolled to its end and back in jumps, sorted by each column, searched and filtered by status,
while a GUI-thread heartbeat measures the longest stall of the event loop (the goal: none over
100 ms, as the issue asks). Each step waits until the rows in view are filled in."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from sqlalchemy import Engine

from bench.desktop_send import StallMeter
from mailfleet.desktop.db.models import ContactStatus
from mailfleet.desktop.ui.contacts_page import ContactsPage
from mailfleet.desktop.ui.qt import QApplication, QEventLoop, Qt, QTimer
from mailfleet.desktop.ui.tasks import TaskRunner

POLL_MS = 5
STEP_TIMEOUT_S = 300.0
JUMPS = 20


def _wait(condition: Callable[[], bool]) -> float:
    """Run the event loop until ``condition`` holds; the seconds it took."""
    started = time.perf_counter()
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(POLL_MS)
    poll.timeout.connect(lambda: loop.quit() if condition() else None)
    poll.start()
    if not condition():
        loop.exec()
    poll.stop()
    elapsed = time.perf_counter() - started
    if not condition() and elapsed > STEP_TIMEOUT_S:
        raise TimeoutError("the contacts view did not settle")
    return elapsed


def _rows_in_view_filled(page: ContactsPage) -> bool:
    """The rows on screen show contacts, not "…" (their page is read)."""
    table, model = page.table, page.model
    top = max(table.rowAt(0), 0)
    bottom = table.rowAt(table.viewport().height() - 1)
    bottom = model.rowCount() - 1 if bottom < 0 else bottom
    return all(model.contact(row) is not None for row in range(top, bottom + 1))


def view_figures(engine: Engine, workspace_id: int) -> None:
    """Print how long each step took and the event loop's longest stall over all of them."""
    app = QApplication.instance() or QApplication(["bench"])
    assert app is not None
    runner = TaskRunner()
    page = ContactsPage(engine, workspace_id, runner)
    page.resize(1000, 700)
    page.show()
    loads = [0]
    page.model.loaded.connect(lambda _total: loads.__setitem__(0, loads[0] + 1))
    meter = StallMeter()
    steps: list[tuple[str, float, float]] = []  # label, seconds, longest stall

    def step(label: str, action: Callable[[], None], reloads: bool = True) -> None:
        """Time ``action`` until the view shows its result: re-read (when it ``reloads``)
        and the rows in view filled."""
        before = loads[0]
        meter.worst, meter.last = 0.0, time.perf_counter()
        started = time.perf_counter()
        action()
        _wait(lambda: (loads[0] > before or not reloads) and _rows_in_view_filled(page))
        steps.append((label, time.perf_counter() - started, meter.worst))

    step("open the page (count + first rows)", lambda: None, reloads=loads[0] == 0)
    total = page.model.rowCount()
    bar = page.table.verticalScrollBar()
    step("jump to the last row", lambda: bar.setValue(bar.maximum()), reloads=False)

    def jumps() -> None:
        for i in range(JUMPS):
            bar.setValue(bar.maximum() * (JUMPS - i) // JUMPS)
            _wait(lambda: _rows_in_view_filled(page))

    step(f"scroll up in {JUMPS} jumps, rows filled at each", jumps, reloads=False)
    header = page.table.horizontalHeader()
    for column in range(page.model.columnCount()):
        name = page.model.headerData(column, Qt.Orientation.Horizontal)
        step(f"sort by {name}, descending", partial(header.setSortIndicator, column,
                                                    Qt.SortOrder.DescendingOrder))  # fmt: skip
    step("sort by Email again", lambda: header.setSortIndicator(0, Qt.SortOrder.AscendingOrder))
    # Typed as a person types: the search waits for a pause in the typing.
    step("search “user99999”", lambda: page.search.setText("user99999"))
    step("clear the search", lambda: page.search.setText(""))
    unsubscribed = page.status_filter.findData(ContactStatus.UNSUBSCRIBED.value)
    step("filter by status (unsubscribed)",
         lambda: page.status_filter.setCurrentIndex(unsubscribed))  # fmt: skip
    step("any status again", lambda: page.status_filter.setCurrentIndex(0))
    meter.timer.stop()
    runner.cancel_all()
    runner.wait()
    page.close()
    page.deleteLater()
    QApplication.processEvents()
    print(f"contacts view on {total:,} contacts, the real page (offscreen): "
          "time until the rows show, and the GUI thread's longest stall meanwhile", flush=True)
    for label, seconds, stall in steps:
        print(f"  {label:<46} {seconds:7.3f} s   stall {stall * 1000:4.0f} ms", flush=True)
    worst = max(stall for _, _, stall in steps)
    print(f"  GUI thread longest stall over all of these: {worst * 1000:.0f} ms; "
          "goal <= 100 ms", flush=True)  # fmt: skip
