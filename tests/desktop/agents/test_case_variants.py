"""Case variants of one mailbox in an import: one contact, one message at the sink."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from mailfleet.desktop.agents import upload
from mailfleet.desktop.services import campaigns
from mailfleet.desktop.services.campaigns import Audience, Draft
from mailfleet.desktop.services.workspaces import ensure_workspace
from tests.agent.builders import relay_config
from tests.desktop.fleetkit import pair, totals
from tests.desktop.importing import emails, import_file, plan_for, write_csv
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess
from tests.peers.smtp import SmtpSink


def test_case_variants_in_one_import_are_one_contact_mailed_once(
    sqlite_engine: Engine,
    agent_factory: Callable[[str], AgentProcess],
    secure_keyring: FileKeyring,
    tmp_path: Path,
) -> None:
    engine = sqlite_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    path = write_csv(
        tmp_path / "variants.csv",
        [["email"], ["user0002@free.fr"], ["USER0002@FREE.FR"], ["User0002@Free.fr"],
         ["other@free.fr"]],
    )  # fmt: skip
    report = import_file(engine, plan_for(path, ws, ("email",), new_list_name="Free"))
    assert (report.imported, report.skipped) == (2, 2)
    assert set(emails(engine, ws)) == {"user0002@free.fr", "other@free.fr"}
    assert report.summary().splitlines()[-1] == (
        "2 rows were the same person as another row: USER0002@free.fr (line 3, as "
        "user0002@free.fr), User0002@free.fr (line 4, as user0002@free.fr)"
    )
    assert report.list_id is not None

    with SmtpSink() as sink:
        record = pair(engine, ws, agent_factory(relay_config(sink)), "one")
        draft = Draft(
            name="Once", audience=Audience(lists=(report.list_id,)), subject="Hi",
            html="<p>Hi</p><a href='{{ unsubscribe_url }}'>x</a>",
            from_address="news@shop.example.com", agents=((record.id, 1),),
        )  # fmt: skip
        campaign_id = campaigns.create(engine, ws, draft)
        assert totals(engine, ws, campaign_id).recipients == 2
        upload.upload_campaign(engine, ws, campaign_id)
        sink.wait_for(2, timeout=60)
    recipients = [r.lower() for m in sink.received for r in m.rcpt_to]
    assert sorted(recipients) == ["other@free.fr", "user0002@free.fr"]
    assert sink.duplicates() == []
