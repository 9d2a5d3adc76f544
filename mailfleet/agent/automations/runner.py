"""The coordinator's automations task: moves due enrolments on, and scans date triggers.

Each pass reads the time once from its clock, scans date triggers not yet scanned that day,
then advances due enrolments a batch per write, fsync'd like an enqueue (the moves and their
messages are one transaction). A pass with nothing to do only reads: it never takes the
writer, so it wakes none of those waiting on commits. Passes come a second apart, so a
contact who enters is at its first step within about a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from mailfleet.agent.automations.advance import Definitions, advance_due
from mailfleet.agent.automations.clock import Clock
from mailfleet.agent.automations.triggers import scan_dates
from mailfleet.agent.store import automations
from mailfleet.agent.store.feedback import day_of
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.space import DiskFull

log = logging.getLogger("mailfleet.agent.automations")

BATCH = 500
_IDLE_SECONDS = 1.0


class AutomationRunner:
    """Runs every tenant's active automations on the coordinator's event loop."""

    def __init__(self, store: Store, clock: Clock, batch: int = BATCH) -> None:
        self._store = store
        self._clock = clock
        self._batch = batch
        self._definitions = Definitions()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """End :meth:`run` after the pass under way."""
        self._stop.set()

    async def run_pass(self) -> int:
        """One pass at the clock's time; returns how many enrolments moved on."""
        now = self._clock.now()
        today = day_of(now)
        if not await self._store.read(lambda c: automations.has_work(c, now, today)):
            return 0
        await self._store.write(lambda c: scan_dates(c, now))
        total = 0
        while not self._stop.is_set():
            n = await self._store.write(
                lambda c: advance_due(c, now, self._batch, self._definitions)
            )
            total += n
            if n < self._batch:
                break
        return total

    async def run(self) -> None:
        """Pass after pass until stopped."""
        while not self._stop.is_set():
            try:
                await self.run_pass()
            except DiskFull:
                log.warning("automations wait: the disk is full")
            except Exception:
                # A fault of automations must not stop the agent's other mail.
                log.exception("an automations pass failed; trying again in a second")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_IDLE_SECONDS):
                    await self._stop.wait()
