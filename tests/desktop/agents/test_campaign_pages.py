"""A campaign uploaded from the desktop carries its lists and language to the agent: the
preference page of its message offers the list (named as the desktop's form names it), in the
campaign's language, and leaving it there is an unsubscribe scoped to that list alone."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from sqlalchemy import Engine, select

from mailfleet.desktop.agents import signup_pull, signup_push, upload
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.db.models import Contact
from mailfleet.desktop.services import campaigns, signup_forms
from mailfleet.desktop.services.signup_forms import FormDesign, FormFieldDesign
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.v1 import capture_pb2, suppression_pb2
from tests.agent.builders import wait_until
from tests.desktop.fleetkit import draft, pair, preferences_url, seed_contacts
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess, Stubs

ADDRESS = "user0@example.com"


async def _leave(url: str) -> tuple[str, str]:
    """The preference page as a French browser gets it, then the page after leaving every
    list (no tick box sent)."""
    async with aiohttp.ClientSession() as browser:
        async with browser.get(url, headers={"Accept-Language": "fr"}) as reply:
            assert reply.status == 200
            page = await reply.text()
        async with browser.post(url, data=[("nothing", "")]) as reply:
            assert reply.status == 200
            return page, await reply.text()


@dataclass
class _Sent:
    """A workspace whose campaign reached two contacts through one agent."""

    engine: Engine
    ws: int
    list_id: int
    record: AgentRecord
    stubs: Stubs


def _send(engine: Engine, proc: AgentProcess, fields: list[FormFieldDesign]) -> _Sent:
    """A German campaign to two seeded contacts of a list that a form (with ``fields``) names
    on the agent, sent and caught in the capture mailbox."""
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    list_id = seed_contacts(engine, ws, 2, list_name="Neuigkeiten")
    record = pair(engine, ws, proc, "one")
    with engine.begin() as conn:  # a form names the list on the agent
        signup_forms.save(
            conn, ws,
            FormDesign(name="Join", list_ids=[list_id], from_address="news@shop.example.com",
                       language="de", agent_ids=[record.id], fields=fields),
        )  # fmt: skip
    assert signup_push.push(engine, ws, record, threading.Event()).pushed == ["Join"]
    campaign_id = campaigns.create(
        engine, ws,
        draft(list_id, ((record.id, 1),), language="de",
              text="Hallo {{ first_name }}: {{ preferences_url }}\n"),
    )  # fmt: skip
    upload.upload_campaign(engine, ws, campaign_id)
    stubs = proc.stubs()
    wait_until(
        lambda: len(stubs.capture.ListCaptured(capture_pb2.ListCapturedRequest()).messages) == 2,
        60,
        "both messages in the capture mailbox",
    )
    return _Sent(engine, ws, list_id, record, stubs)


def test_the_preference_page_of_a_desktop_campaign_offers_its_list_in_its_language(
    sqlite_engine: Engine,
    agent_factory: Callable[[str], AgentProcess],
    secure_keyring: FileKeyring,
) -> None:
    sent = _send(sqlite_engine, agent_factory(""), [])
    list_id, stubs = sent.list_id, sent.stubs
    page, saved = asyncio.run(_leave(preferences_url(stubs, ADDRESS)))
    assert "<html lang=de>" in page and "Ihre Abonnements" in page  # not the browser's French
    assert re.findall(r'name=keep value="([^"]+)"( checked)?', page) == [(str(list_id), " checked")]
    assert "Neuigkeiten" in page
    assert "Ihre Auswahl ist gespeichert." in saved
    checked = stubs.suppression.CheckSuppressions(
        suppression_pb2.CheckSuppressionsRequest(emails=[ADDRESS, "user1@example.com"])
    )
    assert [[e.scope for e in s.entries] for s in checked.statuses] == [[f"list:{list_id}"], []]


async def _edit(url: str, data: list[tuple[str, str]]) -> tuple[str, int]:
    """The preference page, then the status of posting ``data`` to it."""
    async with aiohttp.ClientSession() as browser:
        async with browser.get(url) as reply:
            page = await reply.text()
        async with browser.post(url, data=data) as reply:
            return page, reply.status


def test_fields_edited_on_the_preference_page_reach_the_desktops_contact(
    sqlite_engine: Engine,
    agent_factory: Callable[[str], AgentProcess],
    secure_keyring: FileKeyring,
) -> None:
    fields = [FormFieldDesign("first_name", "Vorname", required=True),
              FormFieldDesign("city", "Stadt")]  # fmt: skip
    sent = _send(sqlite_engine, agent_factory(""), fields)
    url = preferences_url(sent.stubs, ADDRESS)
    keep = ("keep", str(sent.list_id))
    page, status = asyncio.run(_edit(url, [("first_name", "Ada"), ("city", "Lyon"), keep]))
    assert status == 200
    assert 'name=first_name value="First0"' in page and 'name=city value="Paris"' in page

    applied = signup_pull.pull(sent.engine, sent.ws, sent.record, threading.Event())
    assert applied.changes == 1
    with sent.engine.connect() as conn:
        rows = conn.execute(
            select(Contact.email, Contact.first_name, Contact.fields).order_by(Contact.email)
        ).all()
    assert [tuple(r) for r in rows] == [
        (ADDRESS, "Ada", {"city": "Lyon"}),
        ("user1@example.com", "First1", {"city": "Paris"}),
    ]
    # pulled again: the cursor has moved past it, so nothing is applied twice
    again = signup_pull.pull(sent.engine, sent.ws, sent.record, threading.Event())
    assert again.changes == 0
