"""CSV export neutralises formulas; privacy export and erasure; suppression list."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from mailfleet.desktop.db.models import (
    Contact,
    FieldType,
    Suppression,
    SuppressionReason,
    SuppressionRemoval,
)
from mailfleet.desktop.services import contacts, export, privacy, suppression
from mailfleet.desktop.services.import_report import ImportReport, NewField
from mailfleet.desktop.services.workspaces import create_list
from tests.desktop.importing import emails, import_file, plan_for, write_csv


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.reader(handle))


def test_formula_cells_are_neutralised() -> None:
    cells = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "plain", "a=b", None]
    assert [export.neutralise(c) for c in cells] == [
        "'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "'\rx", "plain", "a=b", "",
    ]  # fmt: skip


def test_contacts_export_round_trip(engine: Engine, workspace: int, tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "in.csv",
        [["email", "first", "note"], ["a@x.org", "=cmd|'/c calc'!A0", "-2"], ["b@x.org", "B", ""]],
    )
    plan = plan_for(source, workspace, ("email", "first_name", "field:note"),
                    new_fields=(NewField("note", FieldType.TEXT),))  # fmt: skip
    import_file(engine, plan)
    out = tmp_path / "out.csv"
    with engine.connect() as conn:
        assert export.export_contacts(conn, workspace, out) == 2
    rows = read_csv(out)
    assert rows[0][:3] == ["email", "first_name", "last_name"] and rows[0][-1] == "note"
    assert rows[1][:2] == ["a@x.org", "'=cmd|'/c calc'!A0"] and rows[1][-1] == "'-2"


def test_report_export_lists_each_rejected_row(tmp_path: Path) -> None:
    report = ImportReport(rows_read=3, imported=1, skipped=1)
    report.skip_reasons["empty row"] = 1
    report.reject(3, "invalid email address", "=evil")
    out = tmp_path / "report.csv"
    export.export_report(report, out)
    rows = read_csv(out)
    assert ["rejected", "3", "'=evil", "invalid email address"] in rows
    assert ["total", "rows read", "3", ""] in rows


def test_privacy_export_and_erase(engine: Engine, workspace: int, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [["email", "first"], ["Eve@Example.org", "Eve"]])
    import_file(engine, plan_for(source, workspace, ("email", "first_name"),
                                 new_list_name="News"))  # fmt: skip
    with engine.begin() as conn:
        cid = conn.scalar(select(Contact.id))
        assert cid is not None
        suppression.add(conn, workspace, "Eve@example.org", SuppressionReason.BOUNCED, "smtp")
        record_path = tmp_path / "eve.json"
        privacy.export_contact(conn, workspace, cid, record_path)
        privacy.erase_contact(conn, workspace, cid)
    record = json.loads(record_path.read_text())
    assert record["email"] == "Eve@example.org" and record["lists"] == ["News"]
    assert record["suppression"][0]["reason"] == "bounced"
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Contact)) == 0
        assert conn.scalar(select(func.count()).where(Suppression.email.is_not(None))) == 0
        assert conn.scalar(select(func.count()).select_from(Suppression)) == 1
    again = import_file(engine, plan_for(source, workspace, ("email", "first_name")))
    assert again.suppressed == 1
    assert emails(engine, workspace) == {"Eve@example.org": "bounced"}


def test_suppression_list_and_bulk_actions(engine: Engine, workspace: int, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [["email"], ["a@x.org"], ["b@x.org"], ["c@x.org"]])
    import_file(engine, plan_for(source, workspace, ("email",)))
    with engine.begin() as conn:
        ids = {email: cid for email, cid in conn.execute(select(Contact.email, Contact.id))}
        assert contacts.unsubscribe(conn, workspace, [ids["a@x.org"]], "manual") == 1
        assert suppression.add(conn, workspace, "a@X.ORG", SuppressionReason.MANUAL) is False
        list_id = create_list(conn, workspace, "L")
        assert contacts.add_to_list(conn, workspace, list(ids.values()), list_id) == 3
        assert contacts.delete_contacts(conn, workspace, [ids["c@x.org"], 999_999]) == 1
        [entry] = suppression.entries(conn, workspace)
        assert (entry.email, entry.reason) == ("a@x.org", SuppressionReason.UNSUBSCRIBED)
        suppression.remove(conn, workspace, entry.id)
        assert suppression.count(conn, workspace) == 0
    assert emails(engine, workspace) == {"a@x.org": "unsubscribed", "b@x.org": "subscribed"}
    with pytest.raises(ValueError, match="not-an-address"), engine.begin() as conn:
        suppression.add(conn, workspace, "not-an-address", SuppressionReason.MANUAL)


def test_erasure_forgets_every_spelling_and_still_blocks_each(
    engine: Engine, workspace: int, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "in.csv", [["email"], ["Eve@Example.org"]])
    import_file(engine, plan_for(source, workspace, ("email",)))
    with engine.begin() as conn:
        cid = conn.scalar(select(Contact.id))
        assert cid is not None
        suppression.add(conn, workspace, "EVE@example.org", SuppressionReason.MANUAL, "typed")
        suppression.add(conn, workspace, "eVe@example.org", SuppressionReason.MANUAL, "typed")
        removed = conn.scalar(select(Suppression.id).where(Suppression.email == "eVe@example.org"))
        assert removed is not None
        suppression.remove(conn, workspace, removed)
        privacy.erase_contact(conn, workspace, cid)
    with engine.connect() as conn:
        kept = conn.execute(select(Suppression.email, Suppression.email_key)).all()
        removals = conn.scalar(select(func.count()).select_from(SuppressionRemoval))
    assert kept and all(row == (None, None) for row in kept)
    assert removals == 0
    other = write_csv(tmp_path / "again.csv", [["email"], ["eve@EXAMPLE.org"]])
    again = import_file(engine, plan_for(other, workspace, ("email",)))
    assert again.suppressed == 1
    assert emails(engine, workspace) == {"eve@example.org": "unsubscribed"}
