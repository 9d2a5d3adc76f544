"""Campaigns: create, upload recipients, start/pause/resume/cancel, get, list, watch."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc

from mailfleet.agent import validation
from mailfleet.agent.api import ab_tests, auth, convert, requests
from mailfleet.agent.api.recipients import check_rows
from mailfleet.agent.errors import FailedPrecondition, InvalidArgument
from mailfleet.agent.model import AbTest, CampaignSpec, CampaignState, Tracking
from mailfleet.agent.store import ab_tests as ab_store
from mailfleet.agent.store import campaigns
from mailfleet.agent.store.handle import Store
from mailfleet.v1 import campaigns_pb2, campaigns_pb2_grpc, common_pb2

MAX_REJECTIONS = 100_000
# Batches checked ahead of the writer; bounds memory while the writer works.
_UPLOAD_PIPELINE = 8
# Watchers re-read at most this often, so a busy store does not make them count all day.
_WATCH_MIN_INTERVAL = 0.5
_WATCH_IDLE_RECHECK = 30.0
# (stream position, email) of rows the store refused as duplicates
_Duplicates = list[tuple[int, str]]
_FINISHED = {CampaignState.COMPLETED, CampaignState.CANCELLED}


def _spec(request: campaigns_pb2.CreateCampaignRequest) -> CampaignSpec:
    start_at = None
    if request.HasField("start_at"):
        start_at = request.start_at.ToNanoseconds() / 1e9
    content = requests.content("content", request.content)
    return CampaignSpec(
        name=validation.text_line("name", request.name, required=True),
        sender=requests.sender("sender", request.sender),
        content=content,
        idempotency_key=requests.idempotency_key("idempotency_key", request.idempotency_key),
        tags=validation.tags("tags", list(request.tags)),
        throttle_per_minute=request.throttle_per_minute,
        start_at=start_at,
        # Opens and clicks are tracked unless the request says otherwise.
        tracking=requests.tracking(request.tracking)
        if request.HasField("tracking")
        else Tracking(opens=True, clicks=True),
        ab_test=ab_tests.from_request(request.ab_test, content)
        if request.HasField("ab_test")
        else None,
        send_window=requests.send_window("send_window", request.send_window)
        if request.HasField("send_window")
        else None,
    )


def _ab_test_of(conn: sqlite3.Connection, tenant_id: int, campaign_id: int) -> AbTest:
    test = campaigns.get(conn, tenant_id, campaign_id).spec.ab_test
    if test is None:
        raise FailedPrecondition(f"campaign {campaign_id} has no A/B test")
    return test


def _ab_result(
    conn: sqlite3.Connection, tenant_id: int, campaign_id: int
) -> campaigns_pb2.AbTestResult:
    test = _ab_test_of(conn, tenant_id, campaign_id)
    return ab_tests.result(test, ab_store.state(conn, campaign_id, len(test.variants)))


class _UploadTally:
    """Counts and rejections of one upload stream."""

    def __init__(self) -> None:
        self.received = 0
        self.accepted = 0
        self.rejections: list[common_pb2.Rejection] = []
        self.omitted = 0

    def reject(self, rejection: common_pb2.Rejection) -> None:
        if len(self.rejections) < MAX_REJECTIONS:
            self.rejections.append(rejection)
        else:
            self.omitted += 1

    def summary(self, campaign_id: int) -> campaigns_pb2.UploadSummary:
        rejected = len(self.rejections) + self.omitted
        return campaigns_pb2.UploadSummary(
            campaign_id=campaign_id,
            received=self.received,
            accepted=self.accepted,
            rejected=rejected,
            rejections=sorted(self.rejections, key=lambda r: r.index),
            rejections_omitted=self.omitted,
        )


class CampaignsService(campaigns_pb2_grpc.CampaignsServicer):
    """The campaign API of one agent."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def CreateCampaign(
        self,
        request: campaigns_pb2.CreateCampaignRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> campaigns_pb2.Campaign:
        who = auth.caller()
        spec = _spec(request)
        created = await self._store.write(lambda c: campaigns.create(c, who.tenant_id, spec))
        return convert.campaign(created, time.time())

    async def UploadRecipients(
        self,
        request_iterator: AsyncIterator[campaigns_pb2.RecipientBatch],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> campaigns_pb2.UploadSummary:
        tenant_id = auth.caller().tenant_id
        tally = _UploadTally()
        campaign_id = 0
        names: tuple[str, ...] = ()
        # (write task, rows it was given), oldest first
        in_flight: list[tuple[asyncio.Task[_Duplicates], int]] = []

        async def settle(task: asyncio.Task[_Duplicates], batch_accepted: int) -> None:
            duplicates = await task
            tally.accepted += batch_accepted - len(duplicates)
            for position, email in duplicates:
                tally.reject(
                    common_pb2.Rejection(
                        index=position,
                        email=email,
                        reason=common_pb2.REJECT_REASON_DUPLICATE,
                        detail="already a recipient of this campaign",
                    )
                )

        try:
            async for batch in request_iterator:
                if batch.campaign_id and campaign_id and batch.campaign_id != campaign_id:
                    raise InvalidArgument("campaign_id", "one upload stream feeds one campaign")
                if not campaign_id:
                    if not batch.campaign_id:
                        raise InvalidArgument("campaign_id", "required on the first batch")
                    campaign_id = batch.campaign_id
                    await self._check_uploadable(tenant_id, campaign_id)
                if batch.field_names:
                    names = requests.field_names("field_names", list(batch.field_names))
                checked = check_rows(batch.recipients, len(names), tally.received)
                tally.received += len(batch.recipients)
                for rejection in checked.rejected:
                    tally.reject(rejection)
                job = functools.partial(
                    campaigns.add_recipients,
                    tenant_id=tenant_id,
                    campaign_id=campaign_id,
                    field_names=names,
                    batch=checked.accepted,
                    document=checked.accepted.document(),
                )
                task = asyncio.ensure_future(self._store.write(job, durable=False))
                in_flight.append((task, len(checked.accepted.rows) + len(checked.accepted.repeats)))
                while len(in_flight) >= _UPLOAD_PIPELINE:
                    await settle(*in_flight.pop(0))
            while in_flight:
                await settle(*in_flight.pop(0))
        finally:
            for task, _ in in_flight:  # a failed batch or a vanished client: let the rest finish
                with contextlib.suppress(Exception):
                    await task
        if not campaign_id:
            raise InvalidArgument("campaign_id", "required on the first batch")
        # One fsync of the WAL makes every batch of this stream durable before we answer.
        await self._store.write(lambda c: None, durable=True)
        return tally.summary(campaign_id)

    async def _check_uploadable(self, tenant_id: int, campaign_id: int) -> None:
        found = await self._store.read(lambda c: campaigns.get(c, tenant_id, campaign_id))
        if found.state in _FINISHED:
            raise FailedPrecondition(
                f"campaign {campaign_id} is {found.state.name.lower()}; it takes no more recipients"
            )

    async def _transition(
        self, request: campaigns_pb2.CampaignRef, action: str
    ) -> campaigns_pb2.Campaign:
        who = auth.caller()
        updated = await self._store.write(
            lambda c: campaigns.transition(c, who.tenant_id, request.campaign_id, action)
        )
        return convert.campaign(updated, time.time())

    async def StartCampaign(
        self, request: campaigns_pb2.CampaignRef, context: grpc.aio.ServicerContext[Any, Any]
    ) -> campaigns_pb2.Campaign:
        return await self._transition(request, "start")

    async def PauseCampaign(
        self, request: campaigns_pb2.CampaignRef, context: grpc.aio.ServicerContext[Any, Any]
    ) -> campaigns_pb2.Campaign:
        return await self._transition(request, "pause")

    async def ResumeCampaign(
        self, request: campaigns_pb2.CampaignRef, context: grpc.aio.ServicerContext[Any, Any]
    ) -> campaigns_pb2.Campaign:
        return await self._transition(request, "resume")

    async def CancelCampaign(
        self, request: campaigns_pb2.CampaignRef, context: grpc.aio.ServicerContext[Any, Any]
    ) -> campaigns_pb2.Campaign:
        return await self._transition(request, "cancel")

    async def GetCampaign(
        self, request: campaigns_pb2.CampaignRef, context: grpc.aio.ServicerContext[Any, Any]
    ) -> campaigns_pb2.Campaign:
        who = auth.caller()
        found = await self._store.read(
            lambda c: campaigns.get(c, who.tenant_id, request.campaign_id)
        )
        return convert.campaign(found, time.time())

    async def GetAbTest(
        self, request: campaigns_pb2.CampaignRef, context: grpc.aio.ServicerContext[Any, Any]
    ) -> campaigns_pb2.AbTestResult:
        who = auth.caller()
        return await self._store.read(lambda c: _ab_result(c, who.tenant_id, request.campaign_id))

    async def PickAbWinner(
        self,
        request: campaigns_pb2.PickAbWinnerRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> campaigns_pb2.AbTestResult:
        who = auth.caller()

        def pick(conn: sqlite3.Connection) -> campaigns_pb2.AbTestResult:
            test = _ab_test_of(conn, who.tenant_id, request.campaign_id)
            ab_store.check_variant(request.variant, len(test.variants))
            ab_store.pick(conn, request.campaign_id, request.variant, time.time())
            return _ab_result(conn, who.tenant_id, request.campaign_id)

        return await self._store.write(pick)

    async def ListCampaigns(
        self,
        request: campaigns_pb2.ListCampaignsRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> campaigns_pb2.ListCampaignsResponse:
        who = auth.caller()
        limit = requests.limit("limit", request.limit, 100, 1000)
        found = await self._store.read(
            lambda c: campaigns.list_(c, who.tenant_id, request.before_id, limit)
        )
        now = time.time()
        return campaigns_pb2.ListCampaignsResponse(
            campaigns=[convert.campaign(c, now) for c in found]
        )

    async def WatchCampaign(
        self, request: campaigns_pb2.CampaignRef, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[campaigns_pb2.Campaign]:
        who = auth.caller()
        last = b""
        while True:
            ticket = self._store.commits.ticket()
            found = await self._store.read(
                lambda c: campaigns.get(c, who.tenant_id, request.campaign_id)
            )
            shown = convert.campaign(found, time.time())
            shown.ClearField("updated_at")  # compare what changed, not when it was touched
            if shown.SerializeToString(deterministic=True) != last:
                last = shown.SerializeToString(deterministic=True)
                yield convert.campaign(found, time.time())
            if found.state in _FINISHED:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ticket.wait(), _WATCH_IDLE_RECHECK)
            await asyncio.sleep(_WATCH_MIN_INTERVAL)
