"""Signups: the desktop pushes form definitions and pulls what visitors did, by cursor; apps
sign addresses up through a form without its page."""

from __future__ import annotations

import time
from typing import Any

import grpc

from mailfleet.agent.api import auth, requests, signup_forms
from mailfleet.agent.api.subscribe import SignupDesk
from mailfleet.agent.signup.pages import snippet
from mailfleet.agent.store import signups
from mailfleet.v1 import signups_pb2, signups_pb2_grpc


class SignupsService(signups_pb2_grpc.SignupsServicer):
    """Forms per tenant; the hosted pages are served by :mod:`mailfleet.agent.signup.web`."""

    def __init__(self, desk: SignupDesk) -> None:
        self._store = desk.store
        self._base_url = desk.base_url
        self._desk = desk

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

    async def DeleteForm(
        self, request: signups_pb2.DeleteFormRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> signups_pb2.DeleteFormResponse:
        tenant_id = auth.caller().tenant_id
        form_id, now = request.form_id, time.time()
        deleted = await self._store.write(lambda c: signups.delete_form(c, tenant_id, form_id, now))
        return signups_pb2.DeleteFormResponse(deleted=deleted)

    async def SetBranding(
        self, request: signups_pb2.SetBrandingRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> signups_pb2.SetBrandingResponse:
        tenant_id = auth.caller().tenant_id
        definition, now = signup_forms.look(request).model_dump_json(), time.time()
        await self._store.write(lambda c: signups.put_look(c, tenant_id, definition, now))
        return signups_pb2.SetBrandingResponse()

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
        stored = await self._desk.tenant_form(auth.caller().tenant_id, request.form_id)
        url = signup_forms.form_url(self._base_url, stored.form_id)
        title = signup_forms.form_info(stored, self._base_url).form.title
        return signups_pb2.FormSnippet(html=snippet(url, title), url=url)

    async def Subscribe(
        self, request: signups_pb2.SubscribeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> signups_pb2.SubscribeResponse:
        return await self._desk.subscribe(auth.caller().tenant_id, request)

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
