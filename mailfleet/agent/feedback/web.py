"""The feedback loop's HTTP endpoints on the agent's web server.

- ``/u/<token>``: RFC 8058 one-click unsubscribe. POST (what mail clients send, and what the
  confirmation page's button sends) records the unsubscribe durably, then answers 200: no
  redirect, no cookie, no login. GET only shows that page and changes nothing, so link
  scanners that follow every URL unsubscribe nobody. The pages speak the campaign's
  language (a ``lang:de`` tag), else the first language of the catalogue
  (:mod:`mailfleet.agent.pages.catalogue`) the browser's ``Accept-Language`` asks for.
- ``/o/<token>``: the open pixel; ``/c/<token>?u=<url>``: a tracked link, redirected only when
  the token signs that very URL (anything else is 404, never a redirect).

A token that does not verify, or names a message that does not exist, is 404 and changes
nothing. Every request has passed the server's per-client rate limit before it gets here.
"""

from __future__ import annotations

import base64
import logging
import sqlite3
import time

from aiohttp import web

from mailfleet.agent.feedback import record
from mailfleet.agent.feedback.bots import automated
from mailfleet.agent.feedback.tokens import Purpose, Subject, TokenKey
from mailfleet.agent.model import EventType
from mailfleet.agent.pages import catalogue
from mailfleet.agent.pages.document import (
    Look,
    document,
    escape,
    message_page,
    not_found,
    respond,
    tenant_look,
)
from mailfleet.agent.web.server import STORE_KEY, Mount

log = logging.getLogger("mailfleet.agent.feedback")

_PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_NO_STORE = {
    "Cache-Control": "no-store, private",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}
_MAX_USER_AGENT = 500


def _language(request: web.Request, tags: tuple[str, ...] = (), look: Look | None = None) -> str:
    accept = request.headers.get("Accept-Language", "")
    return catalogue.choose_language(tags, accept, look.language if look else "")


def _not_found(request: web.Request) -> web.Response:
    return not_found(_language(request))


def _client_attrs(request: web.Request) -> dict[str, str]:
    user_agent = request.headers.get("User-Agent", "")[:_MAX_USER_AGENT]
    reason = automated(user_agent, request.headers)
    attrs = {"user_agent": user_agent, "bot": "1" if reason else "0"}
    if reason:
        attrs["bot_reason"] = reason
    return attrs


class FeedbackEndpoints:
    """The handlers, sharing the token key."""

    def __init__(self, key: TokenKey) -> None:
        self._key = key

    def mount(self, app: web.Application) -> None:
        """Add the routes (the ``Mount`` the web server takes)."""
        app.router.add_get("/u/{token}", self.unsubscribe_page, allow_head=False)
        app.router.add_post("/u/{token}", self.unsubscribe)
        app.router.add_get("/o/{token}", self.opened, allow_head=False)
        app.router.add_get("/c/{token}", self.clicked, allow_head=False)

    async def unsubscribe_page(self, request: web.Request) -> web.Response:
        """GET: a confirmation page whose button POSTs; nothing changes until it is pressed."""
        subject = self._key.read(Purpose.UNSUBSCRIBE, request.match_info["token"])
        if subject is None:
            return _not_found(request)

        def read(conn: sqlite3.Connection) -> tuple[record.About, tuple[str, ...], Look] | None:
            about = record.lookup(conn, subject)
            if about is None:
                return None
            return about, record.campaign_tags(conn, about), tenant_look(conn, about.tenant_id)

        found = await request.app[STORE_KEY].read(read)
        if found is None:
            return _not_found(request)
        about, tags, look = found
        language = _language(request, tags, look)
        title = catalogue.text("unsubscribe_title", language)
        question = escape(catalogue.text("unsubscribe_question", language)).replace(
            "{email}", f"<b>{escape(about.email)}</b>"
        )
        button = escape(catalogue.text("unsubscribe_button", language))
        return respond(
            document(
                look.branding,
                language,
                title,
                f"<h1>{escape(title)}</h1><p>{question}</p>"
                "<form method=post><input type=hidden name=List-Unsubscribe value=One-Click>"
                f"<button type=submit>{button}</button></form>",
            )
        )

    async def unsubscribe(self, request: web.Request) -> web.Response:
        """POST: record the unsubscribe (durably, before answering), then 200."""
        subject = self._key.read(Purpose.UNSUBSCRIBE, request.match_info["token"])
        if subject is None:
            return _not_found(request)
        await request.read()  # "List-Unsubscribe=One-Click"; its absence changes nothing
        now = time.time()

        def write(conn: sqlite3.Connection) -> tuple[tuple[str, ...], Look] | None:
            about = record.lookup(conn, subject)
            if about is None:
                return None
            record.unsubscribe(conn, about, "one-click", now)
            return record.campaign_tags(conn, about), tenant_look(conn, about.tenant_id)

        done = await request.app[STORE_KEY].write(write)
        if done is None:
            return _not_found(request)
        tags, look = done
        language = _language(request, tags, look)
        title = catalogue.text("unsubscribed_title", language)
        text = catalogue.text("unsubscribed", language)
        return respond(message_page(look.branding, language, title, text))

    async def _track(
        self, request: web.Request, subject: Subject, type_: EventType, attrs: dict[str, str]
    ) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            about = record.lookup(conn, subject)
            if about is None:
                return False
            record.event(conn, about, type_, attrs)
            return True

        # Opens and clicks are many and worth less than an fsync each: group-committed.
        return await request.app[STORE_KEY].write(write, durable=False)

    async def opened(self, request: web.Request) -> web.Response:
        """The open pixel: an OPENED event, then a 1x1 GIF."""
        subject = self._key.read(Purpose.OPEN, request.match_info["token"])
        if subject is None or not await self._track(
            request, subject, EventType.MESSAGE_OPENED, _client_attrs(request)
        ):
            return _not_found(request)
        return web.Response(body=_PIXEL, content_type="image/gif", headers=_NO_STORE)

    async def clicked(self, request: web.Request) -> web.Response:
        """A tracked link: a CLICKED event, then a redirect to the URL the token signs."""
        target = request.query.get("u", "")
        subject = self._key.read(Purpose.CLICK, request.match_info["token"], target.encode())
        if subject is None or not target.startswith(("http://", "https://")):
            return _not_found(request)
        attrs = {"url": target[:2000], **_client_attrs(request)}
        if not await self._track(request, subject, EventType.MESSAGE_CLICKED, attrs):
            return _not_found(request)
        raise web.HTTPFound(target, headers=_NO_STORE)


def mount(key: TokenKey) -> Mount:
    """The feedback endpoints as a ``Mount`` for :class:`mailfleet.agent.web.server.WebServer`."""
    return FeedbackEndpoints(key).mount
