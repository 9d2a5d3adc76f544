"""The preference center, ``{{ preferences_url }}`` in every campaign message: ``/p/<token>``.

The token is the message's unsubscribe token, so the page can do no more than the one-click
unsubscribe can. GET shows a tick box per list the message was sent for (its campaign's
``list:<id>`` tags), in the campaign's language (a ``lang:<xx>`` tag) or the browser's, and
changes nothing; POST leaves each list no longer ticked: an
unsubscribe scoped to that list's tag, which the store's screening honours at enqueue and
again before sending, and a MESSAGE_UNSUBSCRIBED event (with ``scope``) the desktop follows.
Leaving everything is the one-click unsubscribe, whose URL the page's second button posts to.
"""

from __future__ import annotations

import sqlite3
import time

from aiohttp import web

from mailfleet.agent.feedback import record
from mailfleet.agent.feedback.record import About
from mailfleet.agent.feedback.tokens import Purpose, TokenKey
from mailfleet.agent.pages import catalogue
from mailfleet.agent.signup import pages
from mailfleet.agent.signup.forms import Form
from mailfleet.agent.signup.pages import ListChoice
from mailfleet.agent.signup.record import LIST_TAG, list_scope
from mailfleet.agent.store import signups, suppression
from mailfleet.agent.web.server import SETTINGS_KEY, STORE_KEY, Mount

_HEADERS = {
    "Cache-Control": "no-store, private",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


def list_choices(
    conn: sqlite3.Connection, about: About, now: float, language: str = ""
) -> list[ListChoice]:
    """The lists of the message ``about`` names, each with whether the address is still on it
    (named as the tenant's signup forms name them, those in ``language`` first, else by id)."""
    if about.campaign_id is None:
        return []
    tags = record.campaign_tags(conn, about)
    ids = [t.removeprefix(LIST_TAG) for t in tags if t.startswith(LIST_TAG) and t != LIST_TAG]
    if not ids:
        return []
    entries = suppression.lookup(conn, about.tenant_id, [about.email])
    left = {
        e.scope
        for e in entries.get(suppression.key(about.email), [])
        if e.reason is suppression.Reason.UNSUBSCRIBE
    }
    names: dict[str, str] = {}
    in_language: dict[str, str] = {}
    for stored in signups.list_forms(conn, about.tenant_id, now):
        form = Form.model_validate_json(stored.definition)
        for item in form.lists:
            names.setdefault(item.list_id, item.name or item.list_id)
            if form.language == language and item.name:
                in_language.setdefault(item.list_id, item.name)
    names.update(in_language)
    return [
        ListChoice(i, names.get(i, i), "" not in left and list_scope(i) not in left) for i in ids
    ]


def _language(request: web.Request, tags: tuple[str, ...] = ()) -> str:
    return catalogue.choose_language(tags, request.headers.get("Accept-Language", ""))


def _not_found(language: str) -> web.Response:
    body = pages.message_page(
        None,
        language,
        catalogue.text("not_found_title", language),
        catalogue.text("not_found", language),
    )
    return web.Response(
        text=body, status=404, content_type="text/html", charset="utf-8", headers=_HEADERS
    )


class PreferenceCenter:
    """The handlers, sharing the token key."""

    def __init__(self, key: TokenKey) -> None:
        self._key = key

    def mount(self, app: web.Application) -> None:
        """Add the routes (the ``Mount`` the web server takes)."""
        app.router.add_get("/p/{token}", self.page, allow_head=False)
        app.router.add_post("/p/{token}", self.save)

    def _page(
        self, request: web.Request, about: About, choices: list[ListChoice], tags: tuple[str, ...]
    ) -> web.Response:
        language = _language(request, tags)
        token = request.match_info["token"]
        unsubscribe_url = f"{request.app[SETTINGS_KEY].base_url}/u/{token}"
        body = pages.preferences_page(language, about.email, choices, unsubscribe_url)
        return web.Response(text=body, content_type="text/html", charset="utf-8", headers=_HEADERS)

    async def page(self, request: web.Request) -> web.Response:
        """GET: the lists and their tick boxes; nothing changes."""
        subject = self._key.read(Purpose.UNSUBSCRIBE, request.match_info["token"])
        if subject is None:
            return _not_found(_language(request))
        now = time.time()

        def read(
            conn: sqlite3.Connection,
        ) -> tuple[About, list[ListChoice], tuple[str, ...]] | None:
            about = record.lookup(conn, subject)
            if about is None:
                return None
            tags = record.campaign_tags(conn, about)
            return about, list_choices(conn, about, now, _language(request, tags)), tags

        found = await request.app[STORE_KEY].read(read)
        if found is None:
            return _not_found(_language(request))
        return self._page(request, *found)

    async def save(self, request: web.Request) -> web.Response:
        """POST: leave every list of the message that is no longer ticked (durably)."""
        subject = self._key.read(Purpose.UNSUBSCRIBE, request.match_info["token"])
        if subject is None:
            return _not_found(_language(request))
        posted = await request.post()
        keep = {v for v in posted.getall("keep", []) if isinstance(v, str)}
        now = time.time()

        def write(conn: sqlite3.Connection) -> tuple[str, ...] | None:
            about = record.lookup(conn, subject)
            if about is None:
                return None
            for choice in list_choices(conn, about, now):
                if choice.subscribed and choice.list_id not in keep:
                    record.unsubscribe(
                        conn, about, "preferences", now, scope=list_scope(choice.list_id)
                    )
            return record.campaign_tags(conn, about)

        tags = await request.app[STORE_KEY].write(write)
        language = _language(request, tags or ())
        if tags is None:
            return _not_found(language)
        title = catalogue.text("preferences_title", language)
        body = pages.message_page(
            None, language, title, catalogue.text("preferences_saved", language)
        )
        return web.Response(text=body, content_type="text/html", charset="utf-8", headers=_HEADERS)


def mount(key: TokenKey) -> Mount:
    """The preference center as a ``Mount`` for :class:`mailfleet.agent.web.server.WebServer`."""
    return PreferenceCenter(key).mount
