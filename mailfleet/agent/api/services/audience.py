"""Audience: an app signs people up, changes their fields, unsubscribes them and asks where
they stand, without the desktop. Subscribing is the Signups service's own call; every change
is logged in the signup changes log the desktop follows."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

import grpc

from mailfleet.agent.api import auth, requests, signup_forms
from mailfleet.agent.api.subscribe import KEY_TAKEN, SignupDesk
from mailfleet.agent.errors import InvalidArgument
from mailfleet.agent.feedback import record
from mailfleet.agent.signup.contact import view
from mailfleet.agent.signup.forms import RESERVED_NAMES
from mailfleet.agent.signup.record import list_scope
from mailfleet.agent.store import signups
from mailfleet.agent.store.signups import Change, ChangeKind
from mailfleet.agent.validation import is_field_name, text_line
from mailfleet.v1 import audience_pb2, audience_pb2_grpc, signups_pb2

_MAX_FIELDS = 30
_MAX_VALUE = 500
# The suppression entries' and events' source of an unsubscribe made through this API.
SOURCE = "api"


def _fields(values: dict[str, str]) -> dict[str, str]:
    if not values:
        raise InvalidArgument("fields", "required: at least one field to set")
    if len(values) > _MAX_FIELDS:
        raise InvalidArgument("fields", f"at most {_MAX_FIELDS} fields at once")
    for name, value in values.items():
        if not is_field_name(name) or name in RESERVED_NAMES:
            raise InvalidArgument(f"fields[{name}]", "not a usable field name")
        text_line(f"fields[{name}]", value, limit=_MAX_VALUE)
    return dict(values)


def contact(conn: sqlite3.Connection, tenant_id: int, email: str) -> audience_pb2.Contact:
    """Where ``email`` stands with the tenant now, as the contract has it."""
    history = signups.address_history(conn, tenant_id, email)
    seen = view(email, history, time.time())
    return audience_pb2.Contact(
        email=email,
        status=audience_pb2.ContactStatus.ValueType(int(seen.status)),
        lists=seen.lists,
        pending_lists=seen.pending_lists,
        left_lists=seen.left_lists,
        fields=seen.fields,
        signups=[signup_forms.signup(s) for s in history.signups],
    )


class AudienceService(audience_pb2_grpc.AudienceServicer):
    """The Audience API of one agent, for a tenant's API key."""

    def __init__(self, desk: SignupDesk) -> None:
        self._desk = desk

    async def _change(
        self, key: str, change: Change, apply: Callable[[sqlite3.Connection], None]
    ) -> tuple[audience_pb2.Contact, bool]:
        """Apply and log an address's change once per idempotency key; the address as it
        stands after it, and whether the key had been seen."""
        tenant_id = auth.caller().tenant_id

        def write(conn: sqlite3.Connection) -> tuple[audience_pb2.Contact, bool]:
            earlier = signups.change_by_idempotency_key(conn, tenant_id, key)
            if earlier is not None and earlier.kind is change.kind:
                return contact(conn, tenant_id, earlier.email), True
            if earlier is not None or signups.by_idempotency_key(conn, tenant_id, key):
                raise InvalidArgument("idempotency_key", KEY_TAKEN)
            apply(conn)
            signups.add_address_change(conn, tenant_id, change, key)
            return contact(conn, tenant_id, change.email), False

        return await self._desk.store.write(write)

    async def Subscribe(
        self, request: signups_pb2.SubscribeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> signups_pb2.SubscribeResponse:
        return await self._desk.subscribe(auth.caller().tenant_id, request)

    async def UpdateContact(
        self,
        request: audience_pb2.UpdateContactRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> audience_pb2.UpdateContactResponse:
        key = requests.idempotency_key("idempotency_key", request.idempotency_key)
        email = requests.address("email", request.email)
        fields = _fields(dict(request.fields))
        change = Change(0, time.time(), ChangeKind.FIELDS_UPDATED, None, email, fields)
        found, duplicate = await self._change(key, change, lambda conn: None)
        return audience_pb2.UpdateContactResponse(contact=found, duplicate=duplicate)

    async def Unsubscribe(
        self,
        request: audience_pb2.UnsubscribeRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> audience_pb2.UnsubscribeResponse:
        key = requests.idempotency_key("idempotency_key", request.idempotency_key)
        email = requests.address("email", request.email)
        list_id = text_line("list_id", request.list_id)
        now = time.time()
        lists = [list_id] if list_id else []
        change = Change(0, now, ChangeKind.UNSUBSCRIBED, None, email, lists=lists)
        about = record.About(auth.caller().tenant_id, email)
        scope = list_scope(list_id) if list_id else ""

        def apply(conn: sqlite3.Connection) -> None:
            record.unsubscribe(conn, about, SOURCE, now, scope=scope)

        found, duplicate = await self._change(key, change, apply)
        return audience_pb2.UnsubscribeResponse(contact=found, duplicate=duplicate)

    async def GetContact(
        self, request: audience_pb2.GetContactRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> audience_pb2.Contact:
        tenant_id = auth.caller().tenant_id
        email = requests.address("email", request.email)
        return await self._desk.store.read(lambda conn: contact(conn, tenant_id, email))
