"""The coordinator's task that sends each endpoint its events from its cursor in the store.

It reads the events log after it was committed, on its own task, so it never slows delivery:
a commit wakes it, it waits up to ``batch_wait_ms`` for more, then posts each due endpoint
its next batch (each endpoint on a task of its own, so a slow one holds up only itself; one
batch at a time each, so each gets the log's order). A batch is recorded before it is sent
and the cursor moves only once the endpoint took it: delivery is at least once, and a batch
sent again keeps its ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from mailfleet.agent.eventhooks import backoff, payload
from mailfleet.agent.eventhooks.sender import Sender
from mailfleet.agent.eventhooks.settings import WebhookSettings
from mailfleet.agent.store import webhooks
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.space import DiskFull
from mailfleet.agent.store.webhooks import Endpoint
from mailfleet.agent.telemetry import metrics

log = logging.getLogger("mailfleet.agent.eventhooks")

# A quiet agent still looks now and then (endpoints enabled by a command-line tool).
_IDLE_RECHECK = 30.0
# The backlog gauge counts the log behind every endpoint: at most this often, not per batch.
_MEASURE_EVERY = 10.0
# After an unexpected error (or a full disk) an endpoint waits this long before it goes on.
_PAUSE = 5.0


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
        # Endpoints with a batch under way, each on a task of its own, so that a slow or
        # hanging endpoint holds up only itself; set when one of them finishes.
        self._busy: dict[int, asyncio.Task[None]] = {}
        self._finished = asyncio.Event()
        self._measured_at = -_MEASURE_EVERY
        self._served_since_measured = False

    def stop(self) -> None:
        """Ask :meth:`run` to end; a POST under way is abandoned (it is sent again later)."""
        self._stopping.set()

    async def run(self) -> None:
        """Deliver until stopped."""
        async with Sender(self._settings) as sender:
            try:
                await self._dispatch(sender)
            finally:
                busy = list(self._busy.values())
                for task in busy:
                    task.cancel()
                await asyncio.gather(*busy, return_exceptions=True)

    async def _dispatch(self, sender: Sender) -> None:
        """Start a batch for each due endpoint that has none under way, then wait for a
        commit (and up to ``batch_wait_ms`` more, for the batch to fill), a batch to finish,
        a retry to fall due, or the stop."""
        batch_wait = self._settings.batch_wait_ms / 1000
        while not self._stopping.is_set():
            ticket = self._store.commits.ticket()
            self._finished.clear()
            now = self._clock()
            found, retry_at = await self._store.read(functools.partial(webhooks.due, now=now))
            for endpoint in found:
                if endpoint.id not in self._busy:
                    self._start(sender, endpoint)
            stale = time.monotonic() - self._measured_at >= _MEASURE_EVERY
            if stale or (self._served_since_measured and not self._busy):
                await self._measure()
            wait = _IDLE_RECHECK if retry_at is None else max(0.0, retry_at - now)
            committed, finished = await self._wait([ticket, self._finished], wait)
            if committed and not finished and batch_wait:
                await self._wait([self._finished], batch_wait)

    async def _wait(self, events: list[asyncio.Event], within: float) -> list[bool]:
        """Wait until one of ``events`` is set, the stop is asked or ``within`` seconds pass
        (at most ``_IDLE_RECHECK``); return which of ``events`` are set."""
        waits = [asyncio.ensure_future(e.wait()) for e in (*events, self._stopping)]
        try:
            await asyncio.wait(
                waits, timeout=min(within, _IDLE_RECHECK), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for w in waits:
                w.cancel()
        return [e.is_set() for e in events]

    def _start(self, sender: Sender, endpoint: Endpoint) -> None:
        task = asyncio.create_task(self._serve_safely(sender, endpoint))
        self._busy[endpoint.id] = task

        def finished(_: asyncio.Task[None]) -> None:
            del self._busy[endpoint.id]
            self._served_since_measured = True
            self._finished.set()

        task.add_done_callback(finished)

    async def _serve_safely(self, sender: Sender, endpoint: Endpoint) -> None:
        """Serve the endpoint; an error pauses it, and only it, before its next try."""
        try:
            await self._serve(sender, endpoint)
        except DiskFull:
            # Nothing can be recorded, not even a failure's back-off: pause rather than post
            # in a loop. What was sent is sent again, under its id.
            await self._wait([], _PAUSE)
        except Exception:
            log.exception("webhook %d: unexpected error, trying again shortly", endpoint.id)
            await self._wait([], _PAUSE)

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
        error, asked_wait = await sender.send(endpoint.url, endpoint.secret, msg_id, body)
        now = self._clock()
        if not error:
            metrics.WEBHOOK_POSTS.labels(result="delivered").inc()
            metrics.WEBHOOK_EVENTS.inc(len(found))
            await self._store.write(
                lambda c: webhooks.delivered(c, endpoint, through, len(found), now)
            )
            return
        metrics.WEBHOOK_POSTS.labels(result="failed").inc()
        delay = backoff.retry_delay(self._settings, endpoint.attempts + 1, random.random())
        if asked_wait is not None:  # the endpoint's own word, within the largest delay
            delay = min(max(delay, asked_wait), self._settings.max_retry_seconds)
        retry_at = now + delay
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
