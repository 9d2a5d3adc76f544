"""Queue: the caller's waiting mail (list, counts by domain and route) and what an operator does
with it (retry now, delete, bounce with a reason, suspend and resume a domain or a route)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Collection
from typing import Any

import grpc

from mailfleet.agent import validation
from mailfleet.agent.api import auth, convert, requests
from mailfleet.agent.delivery.suspended import Suspended
from mailfleet.agent.errors import InvalidArgument, NotFound, PermissionDenied
from mailfleet.agent.store import queue_admin, suspensions
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.queue_admin import Count, QueuedMessage, Selection
from mailfleet.agent.store.suspensions import EVERY_TENANT, Holds, Kind, Suspension
from mailfleet.v1 import messages_pb2, queue_pb2, queue_pb2_grpc

MAX_IDS = 10_000
# Messages changed per transaction: a large selection is many short writes, not one long one.
BATCH = 500
_KINDS: dict[int, Kind] = {
    queue_pb2.SUSPENSION_KIND_DOMAIN: Kind.DOMAIN,
    queue_pb2.SUSPENSION_KIND_ROUTE: Kind.ROUTE,
}
_KIND_PB = {
    Kind.DOMAIN: queue_pb2.SUSPENSION_KIND_DOMAIN,
    Kind.ROUTE: queue_pb2.SUSPENSION_KIND_ROUTE,
}


def _kind(value: int) -> Kind:
    kind = _KINDS.get(value)
    if kind is None:
        raise InvalidArgument("kind", "say whether a domain or a route is meant")
    return kind


def _tenant(field: str, tenant_id: int, all_tenants: bool) -> int | None:
    """The tenant a request is about: the caller's unless an admin key names another one, or
    every one (None)."""
    who = auth.caller()
    if (tenant_id or all_tenants) and not who.admin:
        raise PermissionDenied("only an admin API key may act on another tenant's mail")
    if tenant_id and all_tenants:
        raise InvalidArgument(field, "give a tenant or every tenant, not both")
    return None if all_tenants else tenant_id or who.tenant_id


def _domain(field: str, text: str) -> str:
    """A domain as the queue compares it, '' for none."""
    domain = validation.text_line(field, text, limit=253).strip()
    if not domain:
        return ""
    norm = validation.normalize_domain(domain)
    if not validation.is_domain_name(norm):
        raise InvalidArgument(field, f"{text!r} is not a domain name")
    return norm


def selection(msg: queue_pb2.QueueSelection) -> Selection:
    """The checked selection of a request, scoped to the caller's tenant unless an admin key
    names another one (or every one)."""
    tenant = _tenant("selection.tenant_id", msg.tenant_id, msg.all_tenants)
    if msg.campaign_id and msg.transactional_only:
        raise InvalidArgument(
            "selection.transactional_only", "transactional messages belong to no campaign"
        )
    if len(msg.message_ids) > MAX_IDS:
        raise InvalidArgument("selection.message_ids", f"at most {MAX_IDS:,} per call")
    return Selection(
        tenant_id=tenant,
        domain=_domain("selection.domain", msg.domain),
        campaign_id=msg.campaign_id or None,
        transactional_only=msg.transactional_only,
        min_age=float(msg.min_age_seconds),
        route=validation.text_line("selection.route", msg.route).strip(),
        ids=tuple(msg.message_ids),
    )


def _domain_of(email: str) -> str:
    return email.rpartition("@")[2].lower()


def _message_pb(m: QueuedMessage, holds: Holds) -> queue_pb2.QueuedMessage:
    pb = queue_pb2.QueuedMessage(
        id=m.id,
        tenant_id=m.tenant_id,
        campaign_id=m.campaign_id or 0,
        email=m.email,
        state=messages_pb2.MessageState.ValueType(int(m.state)),
        attempts=m.attempts,
        created_at=convert.timestamp(m.created_at),
        last_reply=m.last_reply,
        last_host=m.last_host,
        route=m.route,
        suspended=holds.holds_domain(m.tenant_id, _domain_of(m.email))
        or holds.holds_route(m.tenant_id, m.route),
    )
    if m.next_at is not None:
        pb.next_attempt_at.CopyFrom(convert.timestamp(m.next_at))
    return pb


def _count_pb(c: Count, suspended: bool = False) -> queue_pb2.QueueCount:
    return queue_pb2.QueueCount(
        name=c.name,
        queued=c.queued,
        deferred=c.deferred,
        in_flight=c.in_flight,
        oldest_created_at=convert.timestamp(c.oldest_created_at),
        suspended=suspended,
    )


def _suspension_pb(s: Suspension) -> queue_pb2.Suspension:
    pb = queue_pb2.Suspension(
        tenant_id=s.tenant_id,
        kind=_KIND_PB[s.kind],
        name=s.name,
        reason=s.reason,
        created_at=convert.timestamp(s.created_at),
    )
    if s.until is not None:
        pb.until.CopyFrom(convert.timestamp(s.until))
    return pb


def _visible(found: Collection[Suspension], tenant: int | None, now: float) -> list[Suspension]:
    """Those of ``found`` in force that hold back ``tenant``'s mail (every one's: None)."""
    return [
        s
        for s in found
        if s.in_force(now) and (tenant is None or s.tenant_id in (tenant, EVERY_TENANT))
    ]


class QueueService(queue_pb2_grpc.QueueServicer):
    """Waiting mail of the caller's tenant, and the domains and routes it holds back."""

    def __init__(self, store: Store, suspended: Suspended, routes: Callable[[], Collection[str]]):
        self._store = store
        self._suspended = suspended
        self._routes = routes  # the names of the routes configured now

    async def _in_batches(self, act: Callable[[sqlite3.Connection, float, int], int]) -> int:
        """Run ``act`` one batch per transaction until a batch comes back short."""
        now = time.time()
        total = 0
        while True:
            done = await self._store.write(lambda c: act(c, now, BATCH))
            total += done
            if done < BATCH:
                return total

    async def ListQueue(
        self, request: queue_pb2.ListQueueRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> queue_pb2.ListQueueResponse:
        sel = selection(request.selection)
        limit = requests.limit("limit", request.limit, 100, 1000)
        now = time.time()
        found = await self._store.read(
            lambda c: queue_admin.list_waiting(c, sel, now, request.after_id, limit)
        )
        holds = self._suspended.holds(now)
        return queue_pb2.ListQueueResponse(messages=[_message_pb(m, holds) for m in found])

    async def SummarizeQueue(
        self, request: queue_pb2.SummarizeQueueRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> queue_pb2.SummarizeQueueResponse:
        sel = selection(request.selection)
        now = time.time()
        found = await self._store.read(lambda c: queue_admin.summary(c, sel, now))
        held = _visible(self._suspended.all, sel.tenant_id, now)
        domains = {s.name for s in held if s.kind is Kind.DOMAIN}
        routes = {s.name for s in held if s.kind is Kind.ROUTE}
        reply = queue_pb2.SummarizeQueueResponse(
            domains=[_count_pb(c, c.name in domains) for c in found.domains],
            routes=[_count_pb(c, c.name in routes) for c in found.routes],
            suspensions=[_suspension_pb(s) for s in held],
        )
        if found.total.total:
            reply.total.CopyFrom(_count_pb(found.total))
        return reply

    async def RetryQueued(
        self, request: queue_pb2.RetryQueuedRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> queue_pb2.RetryQueuedResponse:
        sel = selection(request.selection)
        retried = await self._in_batches(lambda c, now, n: queue_admin.retry_now(c, sel, now, n))
        return queue_pb2.RetryQueuedResponse(retried=retried)

    async def DeleteQueued(
        self, request: queue_pb2.DeleteQueuedRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> queue_pb2.DeleteQueuedResponse:
        sel = selection(request.selection)
        deleted = await self._in_batches(lambda c, now, n: queue_admin.delete(c, sel, now, n))
        return queue_pb2.DeleteQueuedResponse(deleted=deleted)

    async def BounceQueued(
        self, request: queue_pb2.BounceQueuedRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> queue_pb2.BounceQueuedResponse:
        sel = selection(request.selection)
        reason = validation.text_line("reason", request.reason, required=True, limit=500)
        bounced = await self._in_batches(
            lambda c, now, n: queue_admin.bounce(c, sel, reason, now, n)
        )
        return queue_pb2.BounceQueuedResponse(bounced=bounced)

    # -- suspensions ------------------------------------------------------------------------

    def _named(self, kind_pb: int, name: str) -> tuple[Kind, str]:
        kind = _kind(kind_pb)
        if kind is Kind.DOMAIN:
            domain = _domain("name", name)
            if not domain:
                raise InvalidArgument("name", "required")
            return kind, domain
        route = validation.text_line("name", name, required=True).strip()
        if route not in self._routes():
            raise InvalidArgument("name", f"the agent has no route named {route!r}")
        return kind, route

    async def _refresh(self) -> list[Suspension]:
        """Put what the store now has in force for the scheduler (and return it)."""
        found = await self._store.read(lambda c: suspensions.in_force(c, time.time()))
        self._suspended.replace(found)
        return found

    async def Suspend(
        self, request: queue_pb2.SuspendRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> queue_pb2.Suspension:
        tenant = _tenant("tenant_id", request.tenant_id, request.all_tenants)
        kind, name = self._named(request.kind, request.name)
        reason = validation.text_line("reason", request.reason, limit=500).strip()
        now = time.time()
        until = now + request.duration_seconds if request.duration_seconds else None
        made = Suspension(
            EVERY_TENANT if tenant is None else tenant, kind, name, reason, now, until
        )
        await self._store.write(lambda c: suspensions.suspend(c, made))
        await self._refresh()
        return _suspension_pb(made)

    async def Resume(
        self, request: queue_pb2.ResumeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> queue_pb2.ResumeResponse:
        tenant = _tenant("tenant_id", request.tenant_id, request.all_tenants)
        kind = _kind(request.kind)
        name = validation.text_line("name", request.name, required=True).strip()
        if kind is Kind.DOMAIN:
            name = _domain("name", name)
        owner = EVERY_TENANT if tenant is None else tenant
        now = time.time()
        gone = next(
            (
                s
                for s in self._suspended.all
                if (s.tenant_id, s.kind, s.name) == (owner, kind, name) and s.in_force(now)
            ),
            None,
        )
        if gone is None or not await self._store.write(
            lambda c: suspensions.resume(c, owner, kind, name)
        ):
            raise NotFound(f"no suspension of {kind.value} {request.name.strip()!r} is in force")
        await self._refresh()
        return queue_pb2.ResumeResponse(resumed=_suspension_pb(gone))

    async def ListSuspensions(
        self,
        request: queue_pb2.ListSuspensionsRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> queue_pb2.ListSuspensionsResponse:
        tenant = _tenant("tenant_id", request.tenant_id, request.all_tenants)
        held = _visible(self._suspended.all, tenant, time.time())
        return queue_pb2.ListSuspensionsResponse(suspensions=[_suspension_pb(s) for s in held])
