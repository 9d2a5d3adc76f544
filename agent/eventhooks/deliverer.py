"""The coordinator's task that sends each endpoint its events from its cursor in the store.

It reads the events log after it was committed, on its own task, so it never slows delivery:
a commit wakes it, it waits up to ``batch_wait_ms`` for more, then posts each due endpoint
its next batch (endpoints in parallel, one batch at a time each, so each keeps the log's
order). A batch is recorded before it is sent and the cursor moves only once the endpoint
took it: delivery is at least once, and a batch sent again keeps its ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from agent.eventhooks import backoff, payload
from agent.eventhooks.sender import Sender
from agent.eventhooks.settings import WebhookSettings
from agent.store import webhooks
from agent.store.handle import Store
from agent.store.space import DiskFull
from agent.store.webhooks import Endpoint
from agent.telemetry import metrics

log = logging.getLogger("mailfleet.agent.eventhooks")

# A quiet agent still looks now and then (endpoints enabled by a command-line tool).
_IDLE_RECHECK = 30.0
# The backlog gauge counts the log behind every endpoint: at most this often, not per batch.
_MEASURE_EVERY = 10.0
_DISK_FULL_PAUSE = 5.0


def batch_id(agent_id: str, endpoint: Endpoint, through: int) -> str:
    """The ``webhook-id`` of a batch: the same for every try of it, unique for each batch."""
    return f"msg_{agent_id}_{endpoint.id}_{endpoint.after_seq}_{through}"


class EventWebhooks:
    """Runs until :meth:`stop`; whatever it was sending is sent again at the next start."""

    def __init__(
        self,
        store: Store,
        settings: WebhookSettings,
        agent_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._settings = settings
        self._agent_id = agent_id
        self._clock = clock
        self._stopping = asyncio.Event()
        self._measured_at = -_MEASURE_EVERY
        self._served_since_measured = False

    def stop(self) -> None:
        """Ask :meth:`run` to end; a POST under way is abandoned (it is sent again later)."""
        self._stopping.set()

    async def run(self) -> None:
        """Deliver until stopped."""
        async with Sender(self._settings) as sender:
            while not self._stopping.is_set():
                ticket = self._store.commits.ticket()
                now = self._clock()
                found, retry_at = await self._store.read(functools.partial(webhooks.due, now=now))
                if found:
                    try:
                        await self._until_stopped(
                            asyncio.gather(*(self._serve(sender, e) for e in found))
                        )
                    except DiskFull:
                        # Nothing can be recorded, not even a failure's back-off: pause rather
                        # than post in a loop. What was sent is sent again, under its id.
                        await self._until_stopped(asyncio.sleep(_DISK_FULL_PAUSE))
                    self._served_since_measured = True
                    if time.monotonic() - self._measured_at >= _MEASURE_EVERY:
                        await self._measure()
                    continue
                if self._served_since_measured or (
                    time.monotonic() - self._measured_at >= _MEASURE_EVERY
                ):
                    await self._measure()  # caught up, or endpoints waiting fall behind
                wait = _IDLE_RECHECK if retry_at is None else max(0.0, retry_at - now)
                woke = await self._until_stopped(ticket.wait(), min(wait, _IDLE_RECHECK))
                if woke and self._settings.batch_wait_ms:
                    await self._until_stopped(asyncio.sleep(self._settings.batch_wait_ms / 1000))

    async def _until_stopped(self, work: Awaitable[object], within: float | None = None) -> bool:
        """Run ``work`` until it ends, ``within`` seconds pass or the task is stopped; True when
        it ended."""
        task = asyncio.ensure_future(work)
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            done, _ = await asyncio.wait(
                {task, stopping}, timeout=within, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stopping.cancel()
        if task not in done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return False
        task.result()
        return True

    async def _serve(self, sender: Sender, endpoint: Endpoint) -> None:
        """Send the endpoint its next batch and record how it went."""
        limit = self._settings.batch_events
        found, through = await self._store.read(lambda c: webhooks.pending(c, endpoint, limit))
        if not found:  # only events of other types: pass them over
            await self._store.write(
                lambda c: webhooks.delivered(c, endpoint, through, 0, self._clock())
            )
            return
        if endpoint.batch_through is None:
            await self._store.write(lambda c: webhooks.begin(c, endpoint, through))
        body = payload.body(self._agent_id, endpoint.tenant_id, found)
        msg_id = batch_id(self._agent_id, endpoint, through)
        error = await sender.post(endpoint.url, endpoint.secret, msg_id, body)
        now = self._clock()
        if not error:
            metrics.WEBHOOK_POSTS.labels(result="delivered").inc()
            metrics.WEBHOOK_EVENTS.inc(len(found))
            await self._store.write(
                lambda c: webhooks.delivered(c, endpoint, through, len(found), now)
            )
            return
        metrics.WEBHOOK_POSTS.labels(result="failed").inc()
        retry_at = now + backoff.retry_delay(self._settings, endpoint.attempts + 1, random.random())
        give_up = self._settings.give_up_hours * 3600
        reason = await self._store.write(
            lambda c: webhooks.failed(c, endpoint, error, now, retry_at, give_up)
        )
        # Only the host: a URL's path or query often holds a token; the secret and the body
        # never go to the log either.
        host = urlsplit(endpoint.url).hostname
        if reason:
            log.warning("webhook %d (%s) %s", endpoint.id, host, reason)
        else:
            log.info("webhook %d (%s) failed, trying again: %s", endpoint.id, host, error)

    async def _measure(self) -> None:
        """Set the backlog gauge (at most every ``_MEASURE_EVERY`` seconds while busy, so
        counting the log never costs more than the batches themselves)."""
        self._measured_at = time.monotonic()
        self._served_since_measured = False
        metrics.WEBHOOK_BACKLOG.set(await self._store.read(webhooks.total_backlog))
