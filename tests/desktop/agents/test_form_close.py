"""Closing a signup form on the desktop: its agent's page says it is closed and takes no
signup; opened again, it takes signups again."""

from __future__ import annotations

import dataclasses
import threading
import urllib.request
from collections.abc import Callable

from sqlalchemy import Engine

from mailfleet.desktop.agents import signup_push
from mailfleet.desktop.services import signup_forms
from mailfleet.desktop.services.signup_forms import FormDesign
from mailfleet.desktop.services.workspaces import create_list, ensure_workspace
from tests.desktop.fleetkit import pair
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess


def _page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as reply:  # noqa: S310 (the test agent's URL)
        return str(reply.read().decode())


def test_a_closed_form_takes_no_signups_until_opened_again(
    sqlite_engine: Engine,
    agent_factory: Callable[[str], AgentProcess],
    secure_keyring: FileKeyring,
) -> None:
    engine = sqlite_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
        news = create_list(conn, ws, "News")
    record = pair(engine, ws, agent_factory(""), "one")
    design = FormDesign(name="Join", list_ids=[news], from_address="news@shop.example.com",
                        agent_ids=[record.id])  # fmt: skip
    with engine.begin() as conn:
        form_pk = signup_forms.save(conn, ws, design)
    stop = threading.Event()
    assert signup_push.push(engine, ws, record, stop).pushed == ["Join"]
    with engine.connect() as conn:
        url = signup_forms.get(conn, ws, form_pk).url
    assert 'name="email"' in _page(url) or "name=email" in _page(url)

    for closed in (True, False):
        with engine.begin() as conn:
            signup_forms.save(conn, ws, dataclasses.replace(design, closed=closed), form_pk)
        assert signup_push.push(engine, ws, record, stop).pushed == ["Join"]
        page = _page(url)
        assert ("closed" in page.lower()) is closed
        assert ("name=email" in page or 'name="email"' in page) is not closed
