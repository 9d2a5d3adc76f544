"""Signing an address up through a form over the API: ``Signups.Subscribe`` and
``Audience.Subscribe`` are this one call (checked like a post of the form, then
:func:`mailfleet.agent.signup.record.sign_up`, as the hosted page does)."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from mailfleet.agent import validation
from mailfleet.agent.api import requests, signup_forms
from mailfleet.agent.errors import InvalidArgument, NotFound
from mailfleet.agent.feedback.tokens import TokenKey
from mailfleet.agent.pages import catalogue
from mailfleet.agent.pages.catalogue import LANGUAGES
from mailfleet.agent.signup.forms import Form, check_submission
from mailfleet.agent.signup.record import Clock, confirm_url_base, sign_up
from mailfleet.agent.signup.settings import SignupSettings
from mailfleet.agent.store import signups
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.signups import NewSignup, SignupRow, StoredForm, Visitor
from mailfleet.v1 import signups_pb2

KEY_TAKEN = "already used by another call; choose a new key"


@dataclass(frozen=True)
class SignupDesk:
    """What signing up over the API needs: the store, the public pages' base URL (for the
    confirmation link), the key that signs it, and the ``[signup]`` settings."""

    store: Store
    base_url: str
    key: TokenKey
    settings: SignupSettings

    async def tenant_form(self, tenant_id: int, form_id: str) -> StoredForm:
        """The tenant's form ``form_id``; NotFound for another tenant's or none."""
        if not form_id:
            raise InvalidArgument("form_id", "required")
        now = time.time()
        stored = await self.store.read(lambda c: signups.form_by_id(c, form_id, now))
        if stored is None or stored.tenant_id != tenant_id:
            raise NotFound(f"form {form_id!r} does not exist")
        return stored

    async def subscribe(
        self, tenant_id: int, request: signups_pb2.SubscribeRequest
    ) -> signups_pb2.SubscribeResponse:
        """Sign the address up (or return the signup its idempotency key made)."""
        key = requests.idempotency_key("idempotency_key", request.idempotency_key)
        stored = await self.tenant_form(tenant_id, request.form_id)
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
        confirm_url = confirm_url_base(self.base_url, form.form_id)
        clock = Clock.at(time.time(), self.settings)
        single = True if request.skip_confirmation else None

        def write(conn: sqlite3.Connection) -> tuple[SignupRow | None, bool]:
            earlier = signups.by_idempotency_key(conn, tenant_id, key)
            if earlier is not None:
                return earlier, True
            if signups.change_by_idempotency_key(conn, tenant_id, key) is not None:
                raise InvalidArgument("idempotency_key", KEY_TAKEN)
            _, signup_id = sign_up(conn, form, new, self.key, confirm_url, None, clock, single)
            assert signup_id is not None  # no cap: always stored
            return signups.get(conn, signup_id), False

        found, duplicate = await self.store.write(write)
        assert found is not None
        return signups_pb2.SubscribeResponse(signup=signup_forms.signup(found), duplicate=duplicate)
