"""The coordinator's background consumer of inbound feedback mail.

The SMTP intake stores each message for the bounce domain durably, one ``inbound_mail`` row per
recipient. This task processes the rows in order and deletes each in the same transaction as
its effects, so a crash never loses a message nor applies one twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time

from mailfleet.agent.feedback.inbound import InboundMail, process
from mailfleet.agent.feedback.settings import FeedbackSettings
from mailfleet.agent.feedback.tokens import TokenKey
from mailfleet.agent.store import inbound_mail
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.space import DiskFull

log = logging.getLogger("mailfleet.agent.feedback")

_BATCH = 50
# Between two looks at the table; a commit (the intake storing mail) wakes it sooner.
_IDLE_WAIT = 5.0
# A busy store commits hundreds of times a second: look at most this often.
_MIN_INTERVAL = 0.2


class InboundConsumer:
    """Drains ``inbound_mail`` until stopped."""

    def __init__(self, store: Store, key: TokenKey, settings: FeedbackSettings) -> None:
        self._store = store
        self._key = key
        self._settings = settings
        self._stopping = asyncio.Event()
        self.processed = 0

    def _batch(self, conn: sqlite3.Connection) -> int:
        rows = inbound_mail.oldest(conn, _BATCH)
        now = time.time()
        for row in rows:
            mail = InboundMail(row.rcpt_to, row.data, row.mail_from)
            process(conn, self._key, mail, now, self._settings)
            inbound_mail.delete(conn, row.id)
        return len(rows)

    async def run(self) -> None:
        """Process rows as they come, until :meth:`stop`."""
        while not self._stopping.is_set():
            ticket = self._store.commits.ticket()
            if await self._store.read(inbound_mail.pending):
                try:
                    done = await self._store.write(self._batch)
                except DiskFull:  # the rows stay stored; the next pass after space is back
                    done = 0
                self.processed += done
                if done == _BATCH:
                    continue
            waits = [asyncio.ensure_future(e.wait()) for e in (ticket, self._stopping)]
            await asyncio.wait(waits, timeout=_IDLE_WAIT, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), _MIN_INTERVAL)

    def stop(self) -> None:
        """Finish the batch under way, then return from :meth:`run`."""
        self._stopping.set()
