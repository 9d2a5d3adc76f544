"""Signups: the desktop pushes form definitions and pulls what visitors did, by cursor; apps
sign addresses up through a form without its page."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import grpc

from mailfleet.agent import validation
from mailfleet.agent.api import auth, requests, signup_forms
from mailfleet.agent.errors import InvalidArgument, NotFound
from mailfleet.agent.feedback.tokens import TokenKey
from mailfleet.agent.pages import catalogue
from mailfleet.agent.pages.catalogue import LANGUAGES
from mailfleet.agent.signup.forms import Form, check_submission
from mailfleet.agent.signup.pages import snippet
from mailfleet.agent.signup.record import Clock, confirm_url_base, sign_up
from mailfleet.agent.signup.settings import SignupSettings
from mailfleet.agent.store import signups
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.signups import NewSignup, SignupRow, StoredForm, Visitor
from mailfleet.v1 import signups_pb2, signups_pb2_grpc


class SignupsService(signups_pb2_grpc.SignupsServicer):
    """Forms per tenant; the hosted pages are served by :mod:`mailfleet.agent.signup.web`."""

    def __init__(
        self, store: Store, base_url: str, key: TokenKey, settings: SignupSettings
    ) -> None:
        self._store = store
        self._base_url = base_url
        self._key = key
        self._settings = settings

    async def _form(self, tenant_id: int, form_id: str) -> StoredForm:
        if not form_id:
            raise InvalidArgument("form_id", "required")
        now = time.time()
        stored = await self._store.read(lambda c: signups.form_by_id(c, form_id, now))
        if stored is None or stored.tenant_id != tenant_id:
            raise NotFound(f"form {form_id!r} does not exist")
        return stored

    async def PutForm(
        self, request: signups_pb2.PutFormRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> signups_pb2.FormInfo:
        tenant_id = auth.caller().tenant_id
        form = signup_forms.form(request.form)
        definition = form.model_dump_json()
        now = time.time()
        stored = await self._store.write(
            lambda c: signups.put_form(c, tenant_id, form.form_id, definition, now)
        )
        return signup_forms.form_info(stored, self._base_url)

    async def ListForms(
        self, request: signups_pb2.ListFormsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> signups_pb2.ListFormsResponse:
        tenant_id = auth.caller().tenant_id
        now = time.time()
        found = await self._store.read(lambda c: signups.list_forms(c, tenant_id, now))
        return signups_pb2.ListFormsResponse(
            forms=[signup_forms.form_info(f, self._base_url) for f in found]
        )

    async def GetFormSnippet(
        self,
        request: signups_pb2.GetFormSnippetRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> signups_pb2.FormSnippet:
        stored = await self._form(auth.caller().tenant_id, request.form_id)
        url = signup_forms.form_url(self._base_url, stored.form_id)
        title = signup_forms.form_info(stored, self._base_url).form.title
        return signups_pb2.FormSnippet(html=snippet(url, title), url=url)

    async def Subscribe(
        self, request: signups_pb2.SubscribeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> signups_pb2.SubscribeResponse:
        tenant_id = auth.caller().tenant_id
        key = requests.idempotency_key("idempotency_key", request.idempotency_key)
        stored = await self._form(tenant_id, request.form_id)
        form = Form.model_validate_json(stored.definition)
        if request.language and request.language not in LANGUAGES:
            raise InvalidArgument("language", f"one of {', '.join(LANGUAGES)}, or empty")
        chosen = list(request.lists) or [item.list_id for item in form.lists]
        values = {**request.fields, "email": request.email, "consent": "1"}
        checked = check_submission(form, values, chosen)
        for name, problem in checked.problems.items():
            where = {"email": "email", "list": "lists"}.get(name, f"fields[{name}]")
            raise InvalidArgument(where, catalogue.text(problem, "en").rstrip("."))
        new = NewSignup(
            tenant_id=tenant_id,
            form_row=stored.row_id,
            email=checked.email,
            fields=checked.fields,
            lists=checked.lists,
            language=request.language or form.language or catalogue.DEFAULT_LANGUAGE,
            consent_text=form.consent_text,
            consent_version=form.consent_version,
            visitor=Visitor(
                validation.text_line("ip", request.ip, limit=100),
                validation.text_line("user_agent", request.user_agent, limit=500),
            ),
            idempotency_key=key,
        )
        confirm_url = confirm_url_base(self._base_url, form.form_id)
        clock = Clock.at(time.time(), self._settings)
        single = True if request.skip_confirmation else None

        def write(conn: sqlite3.Connection) -> tuple[SignupRow | None, bool]:
            earlier = signups.by_idempotency_key(conn, tenant_id, key)
            if earlier is not None:
                return earlier, True
            _, signup_id = sign_up(conn, form, new, self._key, confirm_url, None, clock, single)
            assert signup_id is not None  # no cap: always stored
            return signups.get(conn, signup_id), False

        found, duplicate = await self._store.write(write)
        assert found is not None
        return signups_pb2.SubscribeResponse(signup=signup_forms.signup(found), duplicate=duplicate)

    async def ListSignupChanges(
        self,
        request: signups_pb2.ListSignupChangesRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> signups_pb2.ListSignupChangesResponse:
        tenant_id = auth.caller().tenant_id
        limit = requests.limit("limit", request.limit, 1000, 10_000)
        found = await self._store.read(
            lambda c: signups.list_changes(c, tenant_id, request.after_seq, limit)
        )
        return signups_pb2.ListSignupChangesResponse(
            changes=[signup_forms.change(c) for c in found],
            next_after_seq=found[-1].seq if found else request.after_seq,
        )
