"""Admin: tenants and API keys (admin keys only)."""

from __future__ import annotations

import re
import time
from typing import Any

import grpc

from mailfleet.agent import validation
from mailfleet.agent.api import auth, convert
from mailfleet.agent.api.auth import KeyRing
from mailfleet.agent.errors import FailedPrecondition, InvalidArgument
from mailfleet.agent.identity import keys
from mailfleet.agent.identity.scopes import Scope
from mailfleet.agent.store import audit, tenants
from mailfleet.agent.store.audit import AuditEntry
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.tenants import KeyRecord, KeySpec, Tenant
from mailfleet.v1 import admin_pb2, admin_pb2_grpc

_TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


_SCOPES: dict[Scope, admin_pb2.KeyScope.ValueType] = {
    Scope.ADMIN: admin_pb2.KEY_SCOPE_ADMIN,
    Scope.TENANT: admin_pb2.KEY_SCOPE_TENANT,
    Scope.CAMPAIGNS: admin_pb2.KEY_SCOPE_CAMPAIGNS,
    Scope.SEND: admin_pb2.KEY_SCOPE_SEND,
    Scope.READ: admin_pb2.KEY_SCOPE_READ,
    Scope.AUDIENCE: admin_pb2.KEY_SCOPE_AUDIENCE,
}
_BY_NUMBER = {number: scope for scope, number in _SCOPES.items()}


def _tenant(t: Tenant) -> admin_pb2.Tenant:
    return admin_pb2.Tenant(id=t.id, name=t.name, created_at=convert.timestamp(t.created_at))


def _key(k: KeyRecord) -> admin_pb2.ApiKey:
    msg = admin_pb2.ApiKey(
        key_id=k.key_id,
        tenant_id=k.tenant_id,
        name=k.name,
        admin=k.admin,
        created_at=convert.timestamp(k.created_at),
        scope=_SCOPES[k.scope],
        person=k.person,
    )
    if k.revoked_at is not None:
        msg.revoked_at.CopyFrom(convert.timestamp(k.revoked_at))
    if k.expires_at is not None:
        msg.expires_at.CopyFrom(convert.timestamp(k.expires_at))
    return msg


def _entry(e: AuditEntry) -> admin_pb2.AuditEntry:
    return admin_pb2.AuditEntry(
        id=e.id,
        time=convert.timestamp(e.time),
        tenant_id=e.tenant_id,
        key_id=e.key_id,
        key_name=e.key_name,
        person=e.person,
        peer=e.peer,
        action=e.action,
        summary=e.summary,
        outcome=e.outcome,
        calls=e.calls,
    )


_PAGE = 100
_MAX_PAGE = 1000


def _spec(request: admin_pb2.CreateApiKeyRequest) -> KeySpec:
    """The checked description of the key a CreateApiKey request asks for."""
    name = validation.text_line("name", request.name, required=True)
    person = validation.text_line("person", request.person)
    if request.scope == admin_pb2.KEY_SCOPE_UNSPECIFIED:
        scope = Scope.ADMIN if request.admin else Scope.TENANT
    elif request.scope in _BY_NUMBER:
        scope = _BY_NUMBER[request.scope]
    else:
        raise InvalidArgument("scope", "not a scope this agent knows")
    expires_at = None
    if request.HasField("expires_at"):
        expires_at = request.expires_at.ToNanoseconds() / 1e9
        if expires_at <= time.time():
            raise InvalidArgument("expires_at", "already past")
    return KeySpec(name, scope, expires_at, person)


class AdminService(admin_pb2_grpc.AdminServicer):
    """Creates tenants and keys, lists them, revokes keys."""

    def __init__(self, store: Store, ring: KeyRing) -> None:
        self._store = store
        self._ring = ring

    async def CreateTenant(
        self, request: admin_pb2.CreateTenantRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> admin_pb2.Tenant:
        auth.require_admin()
        if not _TENANT_NAME.fullmatch(request.name):
            raise InvalidArgument("name", "1-64 characters of a-z, 0-9, '.', '_', '-'")
        return _tenant(await self._store.write(lambda c: tenants.create_tenant(c, request.name)))

    async def ListTenants(
        self, request: admin_pb2.ListTenantsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> admin_pb2.ListTenantsResponse:
        auth.require_admin()
        found = await self._store.read(tenants.list_tenants)
        return admin_pb2.ListTenantsResponse(tenants=[_tenant(t) for t in found])

    async def CreateApiKey(
        self, request: admin_pb2.CreateApiKeyRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> admin_pb2.CreateApiKeyResponse:
        auth.require_admin()
        spec = _spec(request)
        if request.tenant_id == 0:
            raise InvalidArgument("tenant_id", "required")
        new = keys.mint()
        record = await self._store.write(
            lambda c: tenants.create_key(c, request.tenant_id, spec, new)
        )
        return admin_pb2.CreateApiKeyResponse(key=_key(record), secret=new.full_key)

    async def ListApiKeys(
        self, request: admin_pb2.ListApiKeysRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> admin_pb2.ListApiKeysResponse:
        auth.require_admin()
        found = await self._store.read(lambda c: tenants.list_keys(c, request.tenant_id or None))
        return admin_pb2.ListApiKeysResponse(keys=[_key(k) for k in found])

    async def RevokeApiKey(
        self, request: admin_pb2.RevokeApiKeyRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> admin_pb2.ApiKey:
        who = auth.require_admin()
        if not request.key_id:
            raise InvalidArgument("key_id", "required")
        if request.key_id == who.key_id:
            raise FailedPrecondition("a key cannot revoke itself; use another admin key")
        record = await self._store.write(lambda c: tenants.revoke_key(c, request.key_id))
        self._ring.forget(record.key_id)
        return _key(record)

    async def ListAuditEntries(
        self,
        request: admin_pb2.ListAuditEntriesRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> admin_pb2.ListAuditEntriesResponse:
        auth.require_admin()
        limit = min(request.limit or _PAGE, _MAX_PAGE)
        found = await self._store.read(
            lambda c: audit.page(c, request.tenant_id or None, request.after_id, limit)
        )
        return admin_pb2.ListAuditEntriesResponse(
            entries=[_entry(e) for e in found],
            next_after_id=found[-1].id if found else request.after_id,
        )
