"""Suppression: the tenant's list (add, remove, check, list, import, export) and feedback
figures (complaint rates per domain, inbound feedback counts)."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc

from mailfleet.agent import validation
from mailfleet.agent.api import auth, convert, requests
from mailfleet.agent.errors import InvalidArgument
from mailfleet.agent.feedback.settings import FeedbackSettings
from mailfleet.agent.store import feedback, suppression
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.suppression import Entry, Reason
from mailfleet.agent.validation import normalize_address
from mailfleet.v1 import suppression_pb2, suppression_pb2_grpc

MAX_ADDRESSES = 10_000
_EXPORT_PAGE = 1000


def _entry_pb(e: Entry) -> suppression_pb2.SuppressionEntry:
    return suppression_pb2.SuppressionEntry(
        email=e.email,
        reason=suppression_pb2.SuppressionReason.ValueType(int(e.reason)),
        source=e.source,
        scope=e.scope,
        created_at=convert.timestamp(e.created_at),
    )


def _reason(field: str, value: int, default: Reason | None) -> Reason | None:
    if value == 0:
        return default
    try:
        return Reason(value)
    except ValueError:
        raise InvalidArgument(field, f"{value} is not a suppression reason") from None


def _entry(field: str, msg: suppression_pb2.SuppressionEntry, source: str) -> Entry:
    """A checked entry; raises InvalidArgument naming the field."""
    if normalize_address(msg.email.strip()) is None:
        raise InvalidArgument(f"{field}.email", f"{msg.email!r} is not a valid email address")
    reason = _reason(f"{field}.reason", msg.reason, Reason.MANUAL)
    assert reason is not None
    return Entry(
        msg.email.strip(),
        reason,
        validation.text_line(f"{field}.source", msg.source, limit=500) or source,
        validation.text_line(f"{field}.scope", msg.scope, limit=100),
    )


def _addresses(field: str, emails: Sequence[str]) -> list[str]:
    if len(emails) > MAX_ADDRESSES:
        raise InvalidArgument(field, f"at most {MAX_ADDRESSES} addresses per call")
    return [validation.text_line(f"{field}[{i}]", e, required=True) for i, e in enumerate(emails)]


def _page_token(cursor: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(cursor)).encode()).decode("ascii")


def _cursor(token: str) -> tuple[str, str]:
    if not token:
        return ("", "")
    try:
        key, scope = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        return str(key), str(scope)
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise InvalidArgument("page_token", "not a token this agent gave out") from None


class SuppressionService(suppression_pb2_grpc.SuppressionServicer):
    """The caller's suppression list."""

    def __init__(self, store: Store, feedback: FeedbackSettings) -> None:
        self._store = store
        self._feedback = feedback

    async def AddSuppressions(
        self,
        request: suppression_pb2.AddSuppressionsRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> suppression_pb2.AddSuppressionsResponse:
        who = auth.caller()
        if len(request.entries) > MAX_ADDRESSES:
            raise InvalidArgument("entries", f"at most {MAX_ADDRESSES} per call")
        entries = [_entry(f"entries[{i}]", e, "api") for i, e in enumerate(request.entries)]
        now = time.time()
        added = await self._store.write(lambda c: suppression.add(c, who.tenant_id, entries, now))
        return suppression_pb2.AddSuppressionsResponse(added=added)

    async def RemoveSuppressions(
        self,
        request: suppression_pb2.RemoveSuppressionsRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> suppression_pb2.RemoveSuppressionsResponse:
        who = auth.caller()
        emails = _addresses("emails", request.emails)
        scope = validation.text_line("scope", request.scope, limit=100)
        removed = await self._store.write(
            lambda c: suppression.remove(c, who.tenant_id, emails, scope)
        )
        return suppression_pb2.RemoveSuppressionsResponse(removed=removed)

    async def CheckSuppressions(
        self,
        request: suppression_pb2.CheckSuppressionsRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> suppression_pb2.CheckSuppressionsResponse:
        who = auth.caller()
        emails = _addresses("emails", request.emails)
        found = await self._store.read(lambda c: suppression.lookup(c, who.tenant_id, emails))
        statuses = []
        for email in emails:
            entries = found.get(suppression.key(email), [])
            statuses.append(
                suppression_pb2.SuppressionStatus(
                    email=email,
                    suppressed=bool(entries),
                    entries=[_entry_pb(e) for e in entries],
                )
            )
        return suppression_pb2.CheckSuppressionsResponse(statuses=statuses)

    async def ListSuppressions(
        self,
        request: suppression_pb2.ListSuppressionsRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> suppression_pb2.ListSuppressionsResponse:
        who = auth.caller()
        limit = requests.limit("limit", request.limit, 100, 1000)
        after = _cursor(request.page_token)
        reason = _reason("reason", request.reason, None)

        def read(conn: Any) -> tuple[list[tuple[tuple[str, str], Entry]], int]:
            page = suppression.list_(conn, who.tenant_id, after, limit + 1, reason)
            return page, suppression.count(conn, who.tenant_id)

        page, total = await self._store.read(read)
        more = len(page) > limit
        page = page[:limit]
        return suppression_pb2.ListSuppressionsResponse(
            entries=[_entry_pb(e) for _, e in page],
            next_page_token=_page_token(page[-1][0]) if more else "",
            total=total,
        )

    async def ImportSuppressions(
        self,
        request_iterator: AsyncIterator[suppression_pb2.SuppressionBatch],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> suppression_pb2.ImportSuppressionsResponse:
        who = auth.caller()
        summary = suppression_pb2.ImportSuppressionsResponse()
        async for batch in request_iterator:
            valid: list[Entry] = []
            for msg in batch.entries:
                index = summary.received
                summary.received += 1
                try:
                    valid.append(_entry("entries", msg, "import"))
                except InvalidArgument as exc:
                    summary.invalid.append(
                        suppression_pb2.InvalidEntry(index=index, email=msg.email, problem=str(exc))
                    )
            now = time.time()
            added = await self._store.write(
                functools.partial(suppression.add, tenant_id=who.tenant_id, entries=valid, now=now),
                durable=False,
            )
            summary.added += added
            summary.existing += len(valid) - added
        # One fsync makes the whole import durable before the summary is sent.
        await self._store.write(lambda c: None, durable=True)
        return summary

    async def ExportSuppressions(
        self,
        request: suppression_pb2.ExportSuppressionsRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[suppression_pb2.SuppressionBatch]:
        who = auth.caller()
        reason = _reason("reason", request.reason, None)
        after = ("", "")
        while True:
            page = await self._store.read(
                functools.partial(
                    suppression.list_,
                    tenant_id=who.tenant_id,
                    after=after,
                    limit=_EXPORT_PAGE,
                    reason=reason,
                )
            )
            if page:
                yield suppression_pb2.SuppressionBatch(entries=[_entry_pb(e) for _, e in page])
            if len(page) < _EXPORT_PAGE:
                return
            after = page[-1][0]

    async def GetFeedbackStats(
        self,
        request: suppression_pb2.GetFeedbackStatsRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> suppression_pb2.FeedbackStats:
        who = auth.caller()
        f = self._feedback
        days = request.days or f.complaint_rate_days
        if days > 3660:
            raise InvalidArgument("days", "at most 3660")
        now = time.time()

        def read(conn: Any) -> tuple[list[feedback.DomainRate], dict[str, int]]:
            rates = feedback.complaint_rates(conn, who.tenant_id, days, now)
            return rates, feedback.inbound_counts(conn)

        rates, inbound = await self._store.read(read)
        return suppression_pb2.FeedbackStats(
            days=days,
            threshold=f.complaint_rate_threshold,
            domains=[
                suppression_pb2.DomainComplaintRate(
                    domain=r.domain,
                    delivered=r.delivered,
                    complaints=r.complaints,
                    rate=r.rate,
                    over_threshold=r.rate > f.complaint_rate_threshold,
                )
                for r in rates
            ],
            inbound=inbound,
        )
