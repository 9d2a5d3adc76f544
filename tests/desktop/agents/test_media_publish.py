"""A library image in a campaign sent through a real agent: published on the agent at send,
fetched from its public URL as a recipient's mail client would, and in the delivered message
the sink caught; a campaign showing a deleted image is not sent."""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
import urllib.request
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from mailfleet.desktop.agents import media_publish, upload
from mailfleet.desktop.services import campaigns, media
from mailfleet.desktop.services.campaigns import Audience, Draft
from mailfleet.desktop.services.workspaces import ensure_workspace
from tests.agent.builders import relay_config
from tests.desktop.fleetkit import pair, seed_contacts
from tests.desktop.keyring_backend import FileKeyring
from tests.desktop.media_images import picture
from tests.peers.agent import AgentProcess
from tests.peers.smtp import SmtpSink


def _draft(list_id: int, agent_id: int, image_id: int) -> Draft:
    html = (
        f'<p>Hi {{{{ first_name }}}}</p><img src="{media.ref(image_id)}" alt="Spring">'
        "<a href='{{ unsubscribe_url }}'>Unsubscribe</a>"
    )
    return Draft(
        name="Spring", audience=Audience(lists=(list_id,)), subject="Hi", html=html,
        from_address="news@shop.example.com", agents=((agent_id, 1),),
    )  # fmt: skip


def test_a_library_image_is_served_by_the_agent_and_shown_in_the_delivered_mail(
    sqlite_engine: Engine,
    agent_factory: Callable[[str], AgentProcess],
    secure_keyring: FileKeyring,
) -> None:
    engine = sqlite_engine
    content = picture()
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
        image_id = media.add(conn, ws, "spring.png", content, alt="Spring")
    list_id = seed_contacts(engine, ws, 2)
    with SmtpSink() as sink:
        proc = agent_factory(relay_config(sink))
        record = pair(engine, ws, proc, "one")
        campaign_id = campaigns.create(engine, ws, _draft(list_id, record.id, image_id))
        upload.upload_campaign(engine, ws, campaign_id)
        sink.wait_for(2, timeout=60)

    url = f"{proc.http_url}/m/{hashlib.sha256(content).hexdigest()}.png"
    for received in sink.received:
        message = email.message_from_bytes(received.data, policy=email.policy.default)
        body = message.get_body(("html",))
        assert body is not None
        html = str(body.get_content())
        assert re.findall(r'<img src="([^"]+)" alt="Spring">', html) == [url]
        assert "media:" not in html
    with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - the agent on loopback
        assert reply.status == 200
        assert reply.headers["Content-Type"] == "image/png"
        assert reply.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert reply.read() == content


def test_a_campaign_showing_a_deleted_image_is_not_sent(
    sqlite_engine: Engine,
    agent_factory: Callable[[str], AgentProcess],
    secure_keyring: FileKeyring,
) -> None:
    engine = sqlite_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
        image_id = media.add(conn, ws, "spring.png", picture())
    list_id = seed_contacts(engine, ws, 1)
    with SmtpSink() as sink:
        record = pair(engine, ws, agent_factory(relay_config(sink)), "one")
        campaign_id = campaigns.create(engine, ws, _draft(list_id, record.id, image_id))
        with engine.begin() as conn:
            media.remove(conn, ws, image_id)  # no template shows it: the campaign's copy does
        with pytest.raises(media_publish.MediaMissing) as stopped:
            upload.upload_campaign(engine, ws, campaign_id)
        assert str(stopped.value) == (
            "The message shows an image no longer in the media library: choose another in the "
            "template, then send again."
        )
        assert sink.count == 0
