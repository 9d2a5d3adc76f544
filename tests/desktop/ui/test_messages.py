"""The message catalogue (issue 24): real failures (a refused connection, an unreachable agent,
a database error) read as plain sentences; no view shows ``str(exc)``; the main screens, walked
widget by widget, hold no technical text (error numbers, tracebacks, raw ids, code keys)."""

from __future__ import annotations

import re
import socket
import sqlite3
from pathlib import Path
from typing import Any

import grpc
import pytest
from PySide6.QtWidgets import QAbstractButton
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, text

from mailfleet.desktop.agents.registry import AgentError
from mailfleet.desktop.db.models import FieldType, SuppressionReason
from mailfleet.desktop.services import suppression
from mailfleet.desktop.services.import_report import NewField
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui import messages
from mailfleet.desktop.ui.main_window import PAGES, MainWindow
from mailfleet.desktop.ui.messages import explain, looks_technical
from mailfleet.desktop.ui.qt import QComboBox, QGroupBox, QLabel, QTableWidget, QTabWidget, QWidget
from tests.desktop.importing import import_file, plan_for, write_csv

UI = Path(messages.__file__).parent


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _refused() -> ConnectionRefusedError:
    try:
        socket.create_connection(("127.0.0.1", _closed_port()), timeout=5)
    except ConnectionRefusedError as exc:
        return exc
    raise AssertionError("a closed port accepted a connection")


def test_a_refused_connection_reads_as_a_sentence_and_keeps_the_plain_head() -> None:
    refused = _refused()
    assert "Errno" in str(refused)
    assert explain(refused).startswith("Nothing answered at that address")
    try:
        raise AgentError(f"cannot reach the agent at 127.0.0.1:1: {refused}") from refused
    except AgentError as wrapped:
        shown = explain(wrapped)
    assert shown.startswith("Cannot reach the agent at 127.0.0.1:1: Nothing answered")
    assert not looks_technical(shown)


def test_an_unreachable_agent_and_a_database_error_read_plainly(tmp_path: Path) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{_closed_port()}") as channel:
        call = channel.unary_unary("/mailfleet.v1.Info/GetInfo", None, None)
        with pytest.raises(grpc.RpcError) as rpc:
            call(b"", timeout=5)
    assert explain(rpc.value) == messages.UNREACHABLE
    with sqlite3.connect(tmp_path / "x.sqlite3") as db, pytest.raises(sqlite3.Error) as broken:
        db.execute("SELECT * FROM missing_table")
    assert "missing_table" in str(broken.value)
    assert not looks_technical(explain(broken.value))


def test_own_messages_pass_and_technical_ones_do_not() -> None:
    assert explain(ValueError("A segment called VIP exists already.")) == (
        "A segment called VIP exists already.")  # fmt: skip
    assert explain(KeyError("signup_date")) == messages.UNEXPECTED
    assert explain(RuntimeError("Traceback (most recent call last)")) == messages.UNEXPECTED
    for technical in ("[Errno 111] Connection refused", "agent 1 event 151", "signup_date",
                      "StatusCode.UNAVAILABLE", "KeyError: 'x'", "got None"):  # fmt: skip
        assert looks_technical(technical), technical
    for plain in ("ann@shop.example", "Hello {{ first_name }}", "https://shop.example/a_b",
                  "Test sent to ann_lee@shop.example", "12 contacts", "Ctrl+Shift+A"):  # fmt: skip
        assert not looks_technical(plain), plain
    assert messages.sync_state("following") == "Up to date"
    assert messages.sync_state("unreachable: the agent is unreachable (…)").startswith("Waiting")
    assert messages.suppression_source("agent 1 event 151") == "Reported by a sending agent"
    assert messages.suppression_source("desktop") == "In the desktop"


def test_no_view_shows_an_exception_as_it_is() -> None:
    """Every error a view shows goes through the catalogue."""
    raw = re.compile(r"str\((exc|e|error|err)\)|\{(exc|e|error|err)(!s|!r)?\}")
    found = [f"{path.name}:{n}: {line.strip()}"
             for path in sorted(UI.glob("*.py")) if path.name != "messages.py"
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if raw.search(line) and "raise " not in line]  # fmt: skip
    assert found == []


def visible_texts(root: QWidget) -> list[str]:
    """Every text a person sees in ``root``: labels, buttons, group titles, tabs, choices, and
    table cells."""
    found: list[str] = []
    for widget in [root, *root.findChildren(QWidget)]:
        if not widget.isVisibleTo(root) and widget is not root:
            continue
        if widget.objectName() == "merge-tags":
            continue  # merge tags are what the person types into a template: code by design
        if isinstance(widget, QLabel):
            found.append(re.sub(r"<[^>]+>", " ", widget.text()))
        elif isinstance(widget, QAbstractButton):
            found.append(widget.text())
        elif isinstance(widget, QGroupBox):
            found.append(widget.title())
        elif isinstance(widget, QTabWidget):
            found.extend(widget.tabText(i) for i in range(widget.count()))
        elif isinstance(widget, QComboBox):
            found.extend(widget.itemText(i) for i in range(widget.count()))
        elif isinstance(widget, QTableWidget):
            for r in range(widget.rowCount()):
                for c in range(widget.columnCount()):
                    item = widget.item(r, c)
                    found.append(item.text() if item is not None else "")
    return [t for t in found if t.strip()]


def test_the_main_screens_hold_no_technical_text(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, tmp_path: Path
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    rows = [["email", "first_name", "signup_date"], ["ann@shop.example", "Ann", "2026-01-02"],
            ["bo@shop.example", "Bo", "2026-02-03"]]  # fmt: skip
    columns = ("email", "first_name", "field:signup_date")
    signup_date = NewField("signup_date", FieldType.DATE)
    import_file(sqlite_engine, plan_for(write_csv(tmp_path / "a.csv", rows), ws, columns,
                                        new_fields=(signup_date,)))  # fmt: skip
    with sqlite_engine.begin() as conn:
        # What the event sync records when an agent reports a bounce.
        suppression.add(conn, ws, "bo@shop.example", SuppressionReason.BOUNCED,
                        "agent 1 event 151")  # fmt: skip
        assert conn.execute(text("SELECT count(*) FROM suppressions")).scalar() == 1
    window = MainWindow(sqlite_engine, ws, "Default", qsettings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.contacts.count_label.text() == "2 contacts")
    found: dict[str, list[str]] = {}
    for name in PAGES:
        window.go(name)
        page = window.stack.currentWidget()
        assert page is not None

        def loaded(page: QWidget = page) -> bool:
            return "Loading…" not in visible_texts(page)

        qtbot.waitUntil(loaded)
        technical = [t for t in visible_texts(page) if looks_technical(t)]
        if technical:
            found[name] = technical
    assert found == {}
