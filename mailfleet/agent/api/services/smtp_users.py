"""SmtpUsers: the intake's logins and the tenants' sending domains with their DKIM state."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

import grpc

from mailfleet.agent.api import auth, convert
from mailfleet.agent.api.dkim_state import DkimState
from mailfleet.agent.errors import InvalidArgument, PermissionDenied
from mailfleet.agent.identity import passwords, smtp_logins
from mailfleet.agent.store import smtp_accounts
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.smtp_accounts import SmtpUser
from mailfleet.v1 import smtp_users_pb2, smtp_users_pb2_grpc


def _tenant(requested: int) -> int:
    """The tenant a call acts on: the caller's own, or any for an admin key."""
    who = auth.caller()
    if requested in (0, who.tenant_id):
        return who.tenant_id
    if not who.admin:
        raise PermissionDenied("managing another tenant's SMTP users needs an admin API key")
    return requested


def _user(u: SmtpUser) -> smtp_users_pb2.SmtpUser:
    msg = smtp_users_pb2.SmtpUser(
        username=u.username, tenant_id=u.tenant_id, created_at=convert.timestamp(u.created_at)
    )
    if u.revoked_at is not None:
        msg.revoked_at.CopyFrom(convert.timestamp(u.revoked_at))
    return msg


class SmtpUsersService(smtp_users_pb2_grpc.SmtpUsersServicer):
    """Creates, lists and revokes SMTP logins; manages sending domains and reports, for each,
    the DKIM keys the workers sign with."""

    def __init__(self, store: Store, dkim: DkimState | None = None) -> None:
        self._store = store
        self._dkim = dkim or DkimState(None)

    async def CreateSmtpUser(
        self,
        request: smtp_users_pb2.CreateSmtpUserRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> smtp_users_pb2.CreateSmtpUserResponse:
        tenant_id = _tenant(request.tenant_id)
        username = smtp_logins.check_username(request.username)
        password = smtp_logins.check_password(request.password) if request.password else None
        password = password or passwords.generate()
        hashed = await asyncio.to_thread(passwords.hash_password, password)
        user = await self._store.write(
            lambda c: smtp_accounts.create_user(c, tenant_id, username, hashed)
        )
        return smtp_users_pb2.CreateSmtpUserResponse(user=_user(user), password=password)

    async def ListSmtpUsers(
        self,
        request: smtp_users_pb2.ListSmtpUsersRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> smtp_users_pb2.ListSmtpUsersResponse:
        tenant_id = _tenant(request.tenant_id)
        found = await self._store.read(
            lambda c: smtp_accounts.list_users(c, tenant_id, revoked=request.include_revoked)
        )
        return smtp_users_pb2.ListSmtpUsersResponse(users=[_user(u) for u in found])

    async def RevokeSmtpUser(
        self,
        request: smtp_users_pb2.RevokeSmtpUserRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> smtp_users_pb2.SmtpUser:
        tenant_id = _tenant(request.tenant_id)
        if not request.username:
            raise InvalidArgument("username", "required")
        user = await self._store.write(
            lambda c: smtp_accounts.revoke_user(c, tenant_id, request.username)
        )
        return _user(user)

    async def _domains(self, tenant_id: int) -> smtp_users_pb2.ListSendingDomainsResponse:
        found = sorted(await self._store.read(lambda c: smtp_accounts.domains(c, tenant_id)))
        statuses = [self._dkim.status(d) for d in found]
        return smtp_users_pb2.ListSendingDomainsResponse(domains=found, statuses=statuses)

    async def _change_domain(
        self,
        request: smtp_users_pb2.SendingDomainRequest,
        change: Callable[[sqlite3.Connection, int, str], None],
    ) -> smtp_users_pb2.ListSendingDomainsResponse:
        tenant_id = _tenant(request.tenant_id)
        await self._store.write(lambda c: change(c, tenant_id, request.domain))
        return await self._domains(tenant_id)

    async def AddSendingDomain(
        self,
        request: smtp_users_pb2.SendingDomainRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> smtp_users_pb2.ListSendingDomainsResponse:
        return await self._change_domain(request, smtp_accounts.add_domain)

    async def RemoveSendingDomain(
        self,
        request: smtp_users_pb2.SendingDomainRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> smtp_users_pb2.ListSendingDomainsResponse:
        return await self._change_domain(request, smtp_accounts.remove_domain)

    async def ListSendingDomains(
        self,
        request: smtp_users_pb2.ListSendingDomainsRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> smtp_users_pb2.ListSendingDomainsResponse:
        return await self._domains(_tenant(request.tenant_id))
