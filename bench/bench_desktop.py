"""Desktop figures: import a 1,000,000-row, 6-column CSV into SQLite with full validation, then
time the contacts view (first page, jump to the last row), the real Contacts page scrolled,
sorted and filtered over them (the GUI thread's longest stall measured), a segment count over
it, and sending a campaign to all of them (segment resolution + upload to one agent, GUI thread
stalls measured).

Rows: ``BENCH_DESKTOP_ROWS`` (default 1,000,000). Runs once; takes about a minute.
"""

from __future__ import annotations

import csv
import os

# The send figure runs a QApplication; without a display it draws offscreen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
import resource
import tempfile
import time
from pathlib import Path

from bench.desktop_send import send_figures
from bench.desktop_view import view_figures
from mailfleet.desktop.db.engine import open_database
from mailfleet.desktop.db.models import FieldType
from mailfleet.desktop.services import segments
from mailfleet.desktop.services.contacts import ContactFilter, ContactPager
from mailfleet.desktop.services.csvformat import sniff
from mailfleet.desktop.services.import_report import ImportPlan, NewField
from mailfleet.desktop.services.importer import run_import
from mailfleet.desktop.services.workspaces import ensure_workspace

ROWS = int(os.environ.get("BENCH_DESKTOP_ROWS", "1000000"))
CITIES = ("Paris", "Berlin", "Oslo", "Lyon", "Porto", "Graz")


def _write_csv(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Email", "First name", "Last name", "City", "Score", "Joined"])
        for i in range(ROWS):
            writer.writerow(
                [
                    f"user{i}@example{i % 1000}.com",
                    f"First{i}",
                    f"Last{i}",
                    CITIES[i % 6],
                    i % 100,
                    f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}",
                ]
            )


def _mib(kib: int) -> float:
    return kib / 1024


def _timed(label: str, started: float) -> float:
    elapsed = time.perf_counter() - started
    print(f"{label:<44} {elapsed:8.3f} s", flush=True)
    return elapsed


def main() -> None:
    """Print the figures."""
    with tempfile.TemporaryDirectory(prefix="mailfleet-bench-") as tmp:
        source = Path(tmp) / "contacts.csv"
        _write_csv(source)
        print(f"file: {ROWS:,} rows, {source.stat().st_size / 1e6:.1f} MB", flush=True)
        engine = open_database(f"sqlite:///{Path(tmp) / 'desktop.sqlite3'}")
        with engine.begin() as conn:
            ws = ensure_workspace(conn)
        before = resource.getrusage(resource.RUSAGE_SELF)
        cpu_before = before.ru_utime + before.ru_stime
        started = time.perf_counter()
        fmt = sniff(source)
        plan = ImportPlan(
            source, fmt, ("email", "first_name", "last_name", "field:city", "field:score",
                          "field:joined"), ws,
            new_fields=(NewField("city", FieldType.TEXT), NewField("score", FieldType.NUMBER),
                        NewField("joined", FieldType.DATE)),
            new_list_name="Everyone",
        )  # fmt: skip
        report = run_import(engine, plan)
        _timed("import (sniff, validate, write, add to list)", started)
        print(f"  {report.summary()}")
        own, child = (resource.getrusage(who) for who in
                      (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))  # fmt: skip
        print(
            f"  peak RSS: {_mib(own.ru_maxrss):.0f} MiB (app) + "
            f"{_mib(child.ru_maxrss):.0f} MiB (parsing process)"
        )
        # CPU seconds do not depend on what else the machine runs: with two free cores the
        # wall time is about the larger of the two plus start-up.
        print(
            f"  CPU: {own.ru_utime + own.ru_stime - cpu_before:.1f} s (app, SQLite included) "
            f"+ {child.ru_utime + child.ru_stime:.1f} s (parsing process)"
        )

        pager = ContactPager(engine, ws)
        started = time.perf_counter()
        pager.refresh()
        pager.row(0)
        _timed("contacts view: count + first page", started)
        started = time.perf_counter()
        last = pager.row(pager.total - 1)
        _timed("contacts view: jump to last row", started)
        assert last is not None
        started = time.perf_counter()
        pager.row(pager.total // 2)
        _timed("contacts view: jump to the middle", started)
        searching = ContactPager(engine, ws, ContactFilter(search="user99999"))
        started = time.perf_counter()
        searching.refresh()
        searching.row(0)
        _timed(f"contacts view: search ({searching.total} hits)", started)
        view_figures(engine, ws)

        rules = {"match": "all", "rules": [
            {"field": "field:score", "op": ">=", "value": 50},
            {"match": "any", "rules": [
                {"field": "field:city", "op": "equals", "value": "paris"},
                {"field": "field:joined", "op": "before", "value": "2025-03-01"}]}]}  # fmt: skip
        with engine.connect() as conn:
            started = time.perf_counter()
            matching = segments.count(conn, ws, rules)
            _timed(f"segment count ({matching:,} match)", started)
            started = time.perf_counter()
            mailable = segments.count(conn, ws, rules, mailable=True)
            _timed(f"segment count, mailable only ({mailable:,})", started)
        send_figures(engine, ws)
        engine.dispose()
