"""The web version of a message, ``{{ web_version_url }}`` in its templates: ``/v/<token>``.

The token (its own purpose, so it unsubscribes nobody) names one message; the page renders it
again as that recipient got it: the same renderer, the message's stored templates (its
campaign's, or its own content's) and its stored recipient data, with the same unsubscribe,
preference and web version links. Nothing tracks the reader: no open pixel is added and links
are not rewritten, and GET records nothing. A forged or altered token, a message that does not
exist, one sent as the client's own MIME, and one whose recipient data or content retention has
already cleared (``[retention] bodies_days``) all get the translated 404 page.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import html
import sqlite3
from dataclasses import dataclass
from email.message import EmailMessage

from aiohttp import web

from mailfleet.agent.delivery.settings import DeliverySettings
from mailfleet.agent.feedback.links import FeedbackLinks
from mailfleet.agent.feedback.tokens import Purpose, Subject
from mailfleet.agent.model import Content, Sender, payload
from mailfleet.agent.pages import catalogue
from mailfleet.agent.pages.document import not_found
from mailfleet.agent.render.message import Renderer, RenderError
from mailfleet.agent.store import campaigns, contents, messages
from mailfleet.agent.store.messages import AsSent
from mailfleet.agent.web.server import STORE_KEY, Mount

_HEADERS = {
    "Cache-Control": "no-store, private",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    # the sender's HTML, shown as mail clients show it: without scripts
    "Content-Security-Policy": "script-src 'none'; object-src 'none'; base-uri 'none'",
}


@dataclass(frozen=True)
class _Stored:
    sent: AsSent
    sender: Sender
    content: Content


def _stored(conn: sqlite3.Connection, subject: Subject) -> _Stored | None:
    sent = messages.as_sent(conn, subject.message_id)
    if (
        sent is None
        or sent.payload is None
        or sent.tenant_id != subject.tenant_id
        or (sent.campaign_id or 0) != subject.campaign_id
    ):
        return None
    if sent.campaign_id is not None:
        spec = campaigns.get_spec(conn, sent.campaign_id)
        return _Stored(sent, spec.sender, spec.content)
    if sent.content_id is None:
        return None
    stored = contents.get(conn, sent.content_id)
    return _Stored(sent, stored.sender, stored.content) if stored.content else None


def body_of(data: bytes) -> str:
    """The HTML part of a rendered message, or its text part as preformatted HTML."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(("html", "plain"))
    if part is None:
        return ""
    text = str(part.get_content())
    if part.get_content_subtype() == "html":
        return text
    return f"<!doctype html><meta charset=utf-8><pre>{html.escape(text)}</pre>"


def _not_found(request: web.Request) -> web.Response:
    return not_found(catalogue.pick_language(request.headers.get("Accept-Language", "")))


class WebVersion:
    """The ``/v/<token>`` handler."""

    def __init__(self, links: FeedbackLinks, delivery: DeliverySettings) -> None:
        self._links = links
        self._renderer = Renderer(
            "web-version.mailfleet", delivery.render_timeout_seconds, delivery.render_max_bytes
        )

    def mount(self, app: web.Application) -> None:
        """Add the route (the ``Mount`` the web server takes)."""
        app.router.add_get("/v/{token}", self.page, allow_head=False)

    async def page(self, request: web.Request) -> web.Response:
        """GET: the message as its recipient got it; nothing is recorded."""
        subject = self._links.key.read(Purpose.VIEW, request.match_info["token"])
        if subject is None:
            return _not_found(request)
        found = await request.app[STORE_KEY].read(lambda c: _stored(c, subject))
        if found is None or found.sent.payload is None:
            return _not_found(request)
        try:
            recipient = payload.decode(found.sent.payload)
        except payload.PayloadError:
            return _not_found(request)
        feedback = self._links.for_message(
            subject, bulk=found.sent.campaign_id is not None, opens=False, clicks=False
        )
        try:
            # off the event loop: a long template must not hold up the other requests
            data = await asyncio.to_thread(
                self._renderer.render,
                message_id=subject.message_id,
                sender=found.sender,
                content=found.content,
                to_email=found.sent.email,
                to_name=recipient.name,
                fields=recipient.merge_fields(found.sent.field_names),
                agent_variables={
                    "unsubscribe_url": feedback.unsubscribe_url,
                    "preferences_url": feedback.preferences_url,
                    "web_version_url": feedback.web_version_url,
                },
            )
        except RenderError:
            return _not_found(request)
        return web.Response(
            text=body_of(data), content_type="text/html", charset="utf-8", headers=_HEADERS
        )


def mount(links: FeedbackLinks, delivery: DeliverySettings) -> Mount:
    """The web version as a ``Mount`` for :class:`mailfleet.agent.web.server.WebServer`."""
    return WebVersion(links, delivery).mount
