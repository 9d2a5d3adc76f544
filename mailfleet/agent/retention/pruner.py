"""Pruning what retention no longer keeps, without pausing delivery.

Every pass deletes in batches of ``batch`` rows, each its own short (non-durable) transaction
in the store's group commit, so the scheduler's claims and settlements go on between them.
Freed pages are reused by SQLite, so a store under steady sending stops growing once the
oldest data reaches the end of its window. The pruning functions
(:mod:`mailfleet.agent.store.retention`) take the clock as an argument; :class:`Retention` runs
them on the coordinator's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from mailfleet.agent.retention.settings import RetentionSettings
from mailfleet.agent.store import audit
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.retention import (
    prune_campaign_messages,
    prune_capture,
    prune_events,
    prune_transactional,
    sweep_bodies,
)
from mailfleet.agent.store.signups import delete_expired, expire_pending
from mailfleet.agent.store.space import DiskFull

log = logging.getLogger("mailfleet.agent.ops")

_DAY = 86400.0

# One batch of a walk over the messages table: (the last id looked at, or 0 when done; rows).
WalkStep = Callable[..., tuple[int, int]]


@dataclass
class PassResult:
    """Rows pruned in one pass, by kind."""

    counts: dict[str, int] = field(default_factory=dict)


class _HasRetention(Protocol):
    @property
    def retention(self) -> RetentionSettings: ...


class Retention:
    """The background pruning task of the coordinator."""

    def __init__(self, store: Store, settings: RetentionSettings) -> None:
        self._store = store
        self.settings = settings
        self._stop = asyncio.Event()

    async def reload(self, settings: _HasRetention) -> None:
        """Use new windows from the next pass on (SIGHUP)."""
        self.settings = settings.retention

    async def _drain(self, job: Callable[[sqlite3.Connection], int]) -> int:
        total = 0
        while not self._stop.is_set():
            n = await self._store.write(job, durable=False)
            total += n
            if n < self.settings.batch:
                break
            await asyncio.sleep(0)  # let delivery's writes in between
        return total

    async def _walk(self, step: WalkStep) -> int:
        """Run ``step(conn, after_id=...)`` a batch per transaction from the table's start
        until it says it is done; return the rows it counted."""
        total, after = 0, 0
        while not self._stop.is_set():
            after, n = await self._store.write(partial(step, after_id=after), durable=False)
            total += n
            if after == 0:
                break
            await asyncio.sleep(0)
        return total

    async def prune_once(self, now: float | None = None) -> PassResult:
        """One full pass over every kind of data, as of ``now``."""
        now = time.time() if now is None else now
        s, limit = self.settings, self.settings.batch
        result = PassResult()
        result.counts["events"] = await self._drain(
            lambda c: prune_events(c, now - s.events_days * _DAY, limit)
        )
        result.counts["capture"] = await self._drain(
            lambda c: prune_capture(c, now - s.capture_days * _DAY, limit)
        )
        result.counts["transactional"] = await self._drain(
            lambda c: prune_transactional(c, now - s.transactional_days * _DAY, limit)
        )
        result.counts["messages"] = await self._walk(
            partial(prune_campaign_messages, before=now - s.messages_days * _DAY, limit=limit)
        )
        result.counts["bodies"] = await self._walk(
            partial(sweep_bodies, before=now - s.bodies_days * _DAY, limit=limit)
        )
        # Signups whose confirmation link expired: the desktop learns it from their change.
        result.counts["unconfirmed signups"] = await self._drain(
            lambda c: expire_pending(c, now, limit)
        )
        # ... and, a window later, what they held of the visitor (GDPR Art. 5(1)(e)).
        result.counts["expired signups"] = await self._drain(
            lambda c: delete_expired(c, now - s.unconfirmed_signups_days * _DAY, limit)
        )
        result.counts["audit entries"] = await self._drain(
            lambda c: audit.prune(c, now - s.audit_days * _DAY, limit)
        )
        if any(result.counts.values()):
            log.info(
                "retention pruned %s",
                ", ".join(f"{n:,} {kind}" for kind, n in result.counts.items() if n),
            )
        return result

    async def run(self) -> None:
        """Prune every ``interval_seconds`` until :meth:`stop`."""
        while not self._stop.is_set():
            try:
                await self.prune_once()
            except DiskFull:
                # the store's space state already says so once, at WARNING; a traceback at
                # every pass would only fill what little room is left
                log.debug("retention pass skipped: the disk is full")
            except sqlite3.Error:
                log.exception("retention pass failed; trying again at the next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.interval_seconds)

    def stop(self) -> None:
        """Finish the current batch and end :meth:`run`."""
        self._stop.set()
