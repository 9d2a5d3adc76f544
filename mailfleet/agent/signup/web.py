"""The hosted signup forms on the agent's web server.

- ``GET /f/<form_id>``: the form in its branding and language, with a fresh time token.
- ``POST /f/<form_id>``: checks every field by type and required flag; a refused post gets
  the form again with a translated error per field, and nothing is stored. Bots are held off
  without third-party services: a filled honeypot gets a success page and nothing is stored;
  a post without a genuine time token of this form, or sooner than a person fills a form,
  or with the page left open too long, gets the form again; posts per client address are
  rate-limited; a form takes at most its daily cap of signups.
- ``GET /f/<form_id>/confirm/<token>``: the double opt-in link shows a button and changes
  nothing (link scanners confirm nobody); ``POST`` confirms, once, within the link's time.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass

from aiohttp import web

from mailfleet.agent.feedback.tokens import TokenKey
from mailfleet.agent.pages import catalogue
from mailfleet.agent.pages.document import Look, message_page, not_found, respond, tenant_look
from mailfleet.agent.signup import pages
from mailfleet.agent.signup.forms import Form, check_submission
from mailfleet.agent.signup.pages import Filled
from mailfleet.agent.signup.record import Clock, Outcome, confirm, confirm_url_base, judge, sign_up
from mailfleet.agent.signup.settings import SignupSettings
from mailfleet.agent.signup.tokens import (
    TimeVerdict,
    check_time_token,
    read_confirm_token,
    time_token,
)
from mailfleet.agent.store import signups
from mailfleet.agent.store.signups import NewSignup, StoredForm, Visitor
from mailfleet.agent.web.ratelimit import RateLimiter
from mailfleet.agent.web.server import SETTINGS_KEY, STORE_KEY, Mount, client_address

log = logging.getLogger("mailfleet.agent.signup")

_MAX_USER_AGENT = 500
_HOUR = 3600.0


@dataclass(frozen=True)
class _Loaded:
    stored: StoredForm
    form: Form


def _language(form: Form | None, request: web.Request) -> str:
    if form is not None and form.language in catalogue.LANGUAGES:
        return form.language
    return catalogue.pick_language(request.headers.get("Accept-Language", ""))


def _not_found(request: web.Request, form: Form | None = None) -> web.Response:
    return not_found(_language(form, request), form.branding if form is not None else None)


class SignupEndpoints:
    """The handlers, sharing the token key, the settings and the per-address post budget."""

    def __init__(self, key: TokenKey, settings: SignupSettings) -> None:
        self._key = key
        self._settings = settings
        self._posts = RateLimiter(settings.posts_per_minute)

    def mount(self, app: web.Application) -> None:
        """Add the routes (the ``Mount`` the web server takes)."""
        app.router.add_get("/f/{form_id}", self.form_page, allow_head=False)
        app.router.add_post("/f/{form_id}", self.submit)
        app.router.add_get("/f/{form_id}/confirm/{token}", self.confirm_page, allow_head=False)
        app.router.add_post("/f/{form_id}/confirm/{token}", self.confirm)

    async def _load(self, request: web.Request) -> _Loaded | None:
        form_id = request.match_info["form_id"]
        now = time.time()

        def read(conn: sqlite3.Connection) -> tuple[StoredForm, Look] | None:
            stored = signups.form_by_id(conn, form_id, now)
            return None if stored is None else (stored, tenant_look(conn, stored.tenant_id))

        found = await request.app[STORE_KEY].read(read)
        if found is None:
            return None
        stored, look = found
        form = Form.model_validate_json(stored.definition)
        # the form's own branding wins, part by part, over the workspace's
        branded = form.model_copy(update={"branding": form.branding.over(look.branding)})
        return _Loaded(stored, branded)

    def _visitor(self, request: web.Request) -> Visitor:
        http = request.app[SETTINGS_KEY]
        return Visitor(
            client_address(request, http.trust_forwarded_for),
            request.headers.get("User-Agent", "")[:_MAX_USER_AGENT],
        )

    def _page(
        self, loaded: _Loaded, language: str, status: int = 200, filled: Filled | None = None
    ) -> web.Response:
        token = time_token(self._key, loaded.stored.tenant_id, loaded.stored.row_id, time.time())
        return respond(pages.form_page(loaded.form, language, token, filled), status)

    def _closed(self, loaded: _Loaded, language: str) -> web.Response:
        title = loaded.form.title
        return respond(
            message_page(loaded.form.branding, language, title, catalogue.text("closed", language))
        )

    async def form_page(self, request: web.Request) -> web.Response:
        """GET: the form, with a time token issued now."""
        loaded = await self._load(request)
        if loaded is None:
            return _not_found(request)
        language = _language(loaded.form, request)
        if loaded.form.closed:
            return self._closed(loaded, language)
        return self._page(loaded, language)

    def _too_many(self) -> web.Response:
        return web.Response(
            status=429,
            text="Too many requests; try again in a minute.\n",
            headers={"Retry-After": "60"},
        )

    async def submit(self, request: web.Request) -> web.Response:
        """POST: check, then store the signup and queue its confirmation mail."""
        visitor = self._visitor(request)
        if not self._posts.allow(visitor.ip):
            return self._too_many()
        loaded = await self._load(request)
        if loaded is None:
            return _not_found(request)
        form, stored = loaded.form, loaded.stored
        language = _language(form, request)
        if form.closed:
            return self._closed(loaded, language)
        posted = await request.post()
        values = {k: v for k, v in posted.items() if isinstance(v, str)}
        chosen = tuple(v for v in posted.getall("list", []) if isinstance(v, str))
        success = catalogue.text("success", language)
        if posted.get(pages.HONEYPOT):
            log.info("signup form %s: a post with its honeypot filled was dropped", form.form_id)
            return respond(
                message_page(form.branding, language, form.title, form.success_message or success)
            )
        now = time.time()
        verdict = check_time_token(
            self._key,
            values.get("t", ""),
            stored.tenant_id,
            stored.row_id,
            now,
            self._settings.min_fill_seconds,
            self._settings.max_fill_hours * _HOUR,
        )
        if verdict is not TimeVerdict.OK:
            log.info(
                "signup form %s: a post was refused (time token %s)", form.form_id, verdict.value
            )
            return self._page(
                loaded,
                language,
                400,
                Filled(values, chosen, banner=catalogue.text("retry", language)),
            )
        checked = check_submission(form, values, chosen)
        if not checked.ok:
            return self._page(loaded, language, 400, Filled(values, chosen, checked.problems))
        new = NewSignup(
            tenant_id=stored.tenant_id,
            form_row=stored.row_id,
            email=checked.email,
            fields=checked.fields,
            lists=checked.lists,
            language=language,
            consent_text=form.consent_text,
            consent_version=form.consent_version,
            visitor=visitor,
        )
        base = request.app[SETTINGS_KEY].base_url
        confirm_url = confirm_url_base(base, form.form_id)
        clock = Clock.at(now, self._settings)
        cap = form.daily_cap or self._settings.daily_cap

        def write(conn: sqlite3.Connection) -> Outcome:
            return sign_up(conn, form, new, self._key, confirm_url, cap, clock)[0]

        outcome = await request.app[STORE_KEY].write(write)
        if outcome is Outcome.CAPPED:
            banner = catalogue.text("too_many", language)
            return self._page(loaded, language, 429, Filled(values, chosen, banner=banner))
        if outcome is Outcome.CONFIRMED:
            success = catalogue.text("success_single", language)
        return respond(
            message_page(form.branding, language, form.title, form.success_message or success)
        )

    async def _confirming(self, request: web.Request) -> tuple[_Loaded, int] | None:
        loaded = await self._load(request)
        subject = read_confirm_token(self._key, request.match_info["token"])
        if loaded is None or subject is None:
            return None
        if (subject.tenant_id, subject.campaign_id) != (
            loaded.stored.tenant_id,
            loaded.stored.row_id,
        ):
            return None
        return loaded, subject.message_id

    def _after_confirm(
        self, request: web.Request, loaded: _Loaded, outcome: Outcome, email: str
    ) -> web.Response:
        form = loaded.form
        language = _language(form, request)
        if outcome in (Outcome.CONFIRMED, Outcome.ALREADY):
            message = form.confirmed_message or catalogue.text("confirmed", language)
            return respond(message_page(form.branding, language, form.title, message))
        if outcome is Outcome.EXPIRED:
            return respond(
                message_page(
                    form.branding,
                    language,
                    form.title,
                    catalogue.text("expired", language),
                    link=f"/f/{form.form_id}",
                ),
                status=410,
            )
        if outcome is Outcome.PENDING:
            return respond(pages.confirm_page(form, language, email))
        return _not_found(request, form)

    async def confirm_page(self, request: web.Request) -> web.Response:
        """GET: a page whose button POSTs; opening the link confirms nothing."""
        found = await self._confirming(request)
        if found is None:
            return _not_found(request)
        loaded, signup_id = found
        signup = await request.app[STORE_KEY].read(lambda c: signups.get(c, signup_id))
        email = signup.email if signup is not None else ""
        return self._after_confirm(request, loaded, judge(signup, time.time()), email)

    async def confirm(self, request: web.Request) -> web.Response:
        """POST: confirm the signup (durably, before answering), once."""
        visitor = self._visitor(request)
        if not self._posts.allow(visitor.ip):
            return self._too_many()
        found = await self._confirming(request)
        if found is None:
            return _not_found(request)
        loaded, signup_id = found
        await request.read()
        now = time.time()
        outcome, signup = await request.app[STORE_KEY].write(
            lambda c: confirm(c, signup_id, visitor, now)
        )
        email = signup.email if signup is not None else ""
        return self._after_confirm(request, loaded, outcome, email)


def mount(key: TokenKey, settings: SignupSettings) -> Mount:
    """The signup endpoints as a ``Mount`` for :class:`mailfleet.agent.web.server.WebServer`."""
    return SignupEndpoints(key, settings).mount
