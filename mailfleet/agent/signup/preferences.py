"""The preference center, ``{{ preferences_url }}`` in every campaign message: ``/p/<token>``.

The token is the message's unsubscribe token, so the page can do no more than the one-click
unsubscribe can. GET shows the recipient's fields (those of the tenant's forms that carry one of
the message's lists, with the values the agent knows: the message's recipient data, then its
signups and later edits) and a tick box per list the message was sent for (its campaign's
``list:<id>`` tags), in the campaign's language (a ``lang:<xx>`` tag) or the browser's, and
changes nothing. POST checks each field by type and required flag like a signup form does; any
problem gets the page again with a translated error per field and stores nothing. Otherwise the
fields that changed are logged as one FIELDS_UPDATED signup change (the desktop applies it by
cursor) and each list no longer ticked is left: an unsubscribe scoped to that list's tag, which
the store's screening honours at enqueue and again before sending, and a MESSAGE_UNSUBSCRIBED
event (with ``scope``) the desktop follows. Leaving everything is the one-click unsubscribe,
whose URL the page's second button posts to.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from dataclasses import dataclass

from aiohttp import web
from multidict import MultiMapping

from mailfleet.agent.feedback import record
from mailfleet.agent.feedback.record import About
from mailfleet.agent.feedback.tokens import Purpose, Subject, TokenKey
from mailfleet.agent.model import payload
from mailfleet.agent.pages import catalogue
from mailfleet.agent.pages.document import Look, message_page, not_found, respond, tenant_look
from mailfleet.agent.signup import pages
from mailfleet.agent.signup.forms import Form, FormField, check_fields
from mailfleet.agent.signup.pages import ListChoice
from mailfleet.agent.signup.record import LIST_TAG, list_scope
from mailfleet.agent.store import messages, signups, suppression
from mailfleet.agent.store.signups import Change, ChangeKind
from mailfleet.agent.web.server import SETTINGS_KEY, STORE_KEY, Mount


def _language(request: web.Request) -> str:
    return catalogue.pick_language(request.headers.get("Accept-Language", ""))


@dataclass(frozen=True)
class Standing:
    """What the page shows about a message's recipient: the campaign's tags, its lists with
    whether the address is still on each, and the fields the recipient may edit (those of the
    forms that carry one of those lists) with their values now."""

    about: About
    tags: tuple[str, ...]
    choices: list[ListChoice]
    fields: tuple[FormField, ...]
    values: dict[str, str]
    look: Look


def _forms(conn: sqlite3.Connection, tenant_id: int, now: float) -> list[Form]:
    return [
        Form.model_validate_json(f.definition) for f in signups.list_forms(conn, tenant_id, now)
    ]


def list_choices(
    about: About,
    tags: tuple[str, ...],
    entries: list[suppression.Entry],
    forms: list[Form],
    language: str = "",
) -> list[ListChoice]:
    """The lists named by the campaign's ``tags``, each with whether the address is still on
    it (by its suppression ``entries``), named as the tenant's ``forms`` name them (those in
    ``language`` first, else by id)."""
    if about.campaign_id is None:
        return []
    ids = [t.removeprefix(LIST_TAG) for t in tags if t.startswith(LIST_TAG) and t != LIST_TAG]
    left = {e.scope for e in entries if e.reason is suppression.Reason.UNSUBSCRIBE}
    names: dict[str, str] = {}
    in_language: dict[str, str] = {}
    for form in forms:
        for item in form.lists:
            names.setdefault(item.list_id, item.name or item.list_id)
            if form.language == language and item.name:
                in_language.setdefault(item.list_id, item.name)
    names.update(in_language)
    return [
        ListChoice(i, names.get(i, i), "" not in left and list_scope(i) not in left) for i in ids
    ]


def editable_fields(
    forms: list[Form], list_ids: set[str], language: str = ""
) -> tuple[FormField, ...]:
    """The fields of the forms that carry one of ``list_ids``, once per name (as a form in
    ``language`` labels it, else the first)."""
    carrying = [f for f in forms if any(item.list_id in list_ids for item in f.lists)]
    carrying.sort(key=lambda f: f.language != language)
    found: dict[str, FormField] = {}
    for form in carrying:
        for spec in form.fields:
            found.setdefault(spec.name, spec)
    return tuple(found.values())


def current_values(
    conn: sqlite3.Connection, about: About, history: signups.AddressHistory
) -> dict[str, str]:
    """The recipient's fields now: the message's recipient data, then the fields its signups
    gave (those filled in), then every later edit, oldest first."""
    values: dict[str, str] = {}
    if about.message_id is not None:
        sent = messages.as_sent(conn, about.message_id)
        if sent is not None and sent.payload is not None:
            with contextlib.suppress(payload.PayloadError):
                values.update(payload.decode(sent.payload).merge_fields(sent.field_names))
    for signup in history.signups:
        values.update({k: v for k, v in signup.fields.items() if v})
    for update in history.updates:
        values.update(update.fields)
    return values


def standing(
    conn: sqlite3.Connection, subject: Subject, now: float, accept_language: str
) -> tuple[Standing, str] | None:
    """The page's data about the message a genuine token names, and the page's language."""
    about = record.lookup(conn, subject)
    if about is None:
        return None
    tags = record.campaign_tags(conn, about)
    look = tenant_look(conn, about.tenant_id)
    language = catalogue.choose_language(tags, accept_language, look.language)
    forms = _forms(conn, about.tenant_id, now)
    history = signups.address_history(conn, about.tenant_id, about.email)
    choices = list_choices(about, tags, history.entries, forms, language)
    specs = editable_fields(forms, {c.list_id for c in choices}, language)
    values = current_values(conn, about, history) if specs else {}
    shown = {s.name: values.get(s.name, "") for s in specs}
    return Standing(about, tags, choices, specs, shown, look), language


def posted_values(posted: MultiMapping[object], specs: tuple[FormField, ...]) -> dict[str, str]:
    """The posted value of each field in ``specs`` the post carries (the last, so a ticked
    checkbox wins over the hidden empty value the page sends before it)."""
    values: dict[str, str] = {}
    for spec in specs:
        sent = [v for v in posted.getall(spec.name, []) if isinstance(v, str)]
        if sent:
            values[spec.name] = sent[-1]
    return values


class PreferenceCenter:
    """The handlers, sharing the token key."""

    def __init__(self, key: TokenKey) -> None:
        self._key = key

    def mount(self, app: web.Application) -> None:
        """Add the routes (the ``Mount`` the web server takes)."""
        app.router.add_get("/p/{token}", self.page, allow_head=False)
        app.router.add_post("/p/{token}", self.save)

    def _page(
        self,
        request: web.Request,
        found: Standing,
        language: str,
        edit: pages.Filled | None = None,
        status: int = 200,
    ) -> web.Response:
        token = request.match_info["token"]
        unsubscribe_url = f"{request.app[SETTINGS_KEY].base_url}/u/{token}"
        body = pages.preferences_page(
            language,
            pages.Preferences(found.about.email, found.choices, found.fields, unsubscribe_url),
            edit or pages.Filled(found.values),
            found.look.branding,
        )
        return respond(body, status)

    async def page(self, request: web.Request) -> web.Response:
        """GET: the lists and their tick boxes, the fields and their values; nothing changes."""
        subject = self._key.read(Purpose.UNSUBSCRIBE, request.match_info["token"])
        if subject is None:
            return not_found(_language(request))
        now = time.time()
        accept = request.headers.get("Accept-Language", "")
        found = await request.app[STORE_KEY].read(lambda conn: standing(conn, subject, now, accept))
        if found is None:
            return not_found(_language(request))
        return self._page(request, *found)

    async def save(self, request: web.Request) -> web.Response:
        """POST: check the fields posted; if they are all fine, leave every list of the message
        no longer ticked and log the fields that changed as one FIELDS_UPDATED change (durably);
        otherwise the page again with each field's problem, and nothing stored."""
        subject = self._key.read(Purpose.UNSUBSCRIBE, request.match_info["token"])
        if subject is None:
            return not_found(_language(request))
        posted = await request.post()
        keep = {v for v in posted.getall("keep", []) if isinstance(v, str)}
        now = time.time()
        accept = request.headers.get("Accept-Language", "")

        def write(conn: sqlite3.Connection) -> tuple[Standing, str, dict[str, str]] | None:
            found = standing(conn, subject, now, accept)
            if found is None:
                return None
            seen, language = found
            sent = posted_values(posted, seen.fields)
            clean, problems = check_fields([s for s in seen.fields if s.name in sent], sent)
            if problems:
                return seen, language, problems
            for choice in seen.choices:
                if choice.subscribed and choice.list_id not in keep:
                    record.unsubscribe(
                        conn, seen.about, "preferences", now, scope=list_scope(choice.list_id)
                    )
            changed = {k: v for k, v in clean.items() if v != seen.values.get(k, "")}
            if changed:
                change = Change(0, now, ChangeKind.FIELDS_UPDATED, None, seen.about.email, changed)
                signups.add_address_change(conn, seen.about.tenant_id, change)
            return seen, language, {}

        done = await request.app[STORE_KEY].write(write)
        if done is None:
            return not_found(_language(request))
        seen, language, problems = done
        if problems:
            sent = posted_values(posted, seen.fields)
            edit = pages.Filled({**seen.values, **sent}, tuple(keep), problems)
            return self._page(request, seen, language, edit, status=400)
        title = catalogue.text("preferences_title", language)
        saved = catalogue.text("preferences_saved", language)
        body = message_page(seen.look.branding, language, title, saved)
        return respond(body)


def mount(key: TokenKey) -> Mount:
    """The preference center as a ``Mount`` for :class:`mailfleet.agent.web.server.WebServer`."""
    return PreferenceCenter(key).mount
