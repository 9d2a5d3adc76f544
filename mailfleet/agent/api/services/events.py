"""Events: the log by cursor, and a live stream that resumes from a cursor."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from typing import Any

import grpc

from mailfleet.agent.api import auth, convert, requests
from mailfleet.agent.errors import OutOfRange
from mailfleet.agent.store import events
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.retention import events_pruned_through
from mailfleet.v1 import events_pb2, events_pb2_grpc

_WATCH_PAGE = 1000
# A quiet stream still re-reads now and then, so it notices a dead client and ends.
_WATCH_IDLE_RECHECK = 15.0


class EventsService(events_pb2_grpc.EventsServicer):
    """Lists and streams the caller's events in sequence order."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def _check_cursor(self, after_seq: int) -> None:
        """A cursor from before the oldest kept event would silently skip the pruned ones.

        0 means "from the oldest kept event": a new client starts there.
        """
        if after_seq == 0:
            return
        pruned = await self._store.read(events_pruned_through)
        if after_seq < pruned:
            raise OutOfRange(
                f"after_seq: events up to {pruned} were pruned by retention; resync what you "
                f"need and continue from after_seq={pruned} (or 0 for the oldest kept)"
            )

    async def ListEvents(
        self, request: events_pb2.ListEventsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> events_pb2.ListEventsResponse:
        who = auth.caller()
        limit = requests.limit("limit", request.limit, 1000, 10_000)
        await self._check_cursor(request.after_seq)
        found = await self._store.read(
            lambda c: events.list_after(c, who.tenant_id, request.after_seq, limit)
        )
        return events_pb2.ListEventsResponse(
            events=[convert.event(e) for e in found],
            next_after_seq=found[-1].seq if found else request.after_seq,
        )

    async def WatchEvents(
        self, request: events_pb2.WatchEventsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[events_pb2.Event]:
        async for page in self._pages(request.after_seq):
            for event in page:
                yield event

    async def WatchEventBatches(
        self, request: events_pb2.WatchEventsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[events_pb2.EventBatch]:
        async for page in self._pages(request.after_seq):
            yield events_pb2.EventBatch(events=page)

    async def _pages(self, after: int) -> AsyncIterator[list[events_pb2.Event]]:
        """The caller's events after ``after``, a page (of what was committed) at a time, then
        each new page as it is committed, until the client goes away."""
        who = auth.caller()
        await self._check_cursor(after)
        while True:
            ticket = self._store.commits.ticket()
            page = await self._store.read(
                functools.partial(
                    events.list_after, tenant_id=who.tenant_id, after_seq=after, limit=_WATCH_PAGE
                )
            )
            if page:
                yield [convert.event(e) for e in page]
                after = page[-1].seq
            if len(page) < _WATCH_PAGE:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ticket.wait(), _WATCH_IDLE_RECHECK)
