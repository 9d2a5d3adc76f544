"""A worker process: render, sign and deliver the jobs it is sent; report every outcome.

It never opens the store. Jobs arrive in batches over a pipe; each batch is rendered and signed
on the main thread (CPU work, with a time cap per message), then split by route and recipient
domain into independent delivery tasks, so a slow destination never holds back another.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import signal
import threading
from collections import defaultdict
from multiprocessing.connection import Connection

from agent import logs
from agent.config import AgentSettings
from agent.delivery.jobs import Job, MessageSpec, WorkBatch
from agent.delivery.pipeline import Pipeline
from agent.routes.base import Envelope, Outcome, OutcomeKind

log = logging.getLogger("mailfleet.agent.delivery")


class _Reporter:
    """Sends outcome lists back to the coordinator (one writer at a time)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def send(self, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        with self._lock:
            self._conn.send(outcomes)


def _inbox_reader(
    conn: Connection, loop: asyncio.AbstractEventLoop, inbox: asyncio.Queue[WorkBatch | None]
) -> None:
    while True:
        try:
            item: WorkBatch | None = conn.recv()
        except (EOFError, OSError):
            item = None  # the coordinator is gone: finish up and exit
        loop.call_soon_threadsafe(inbox.put_nowait, item)
        if item is None:
            return


async def _deliver(
    pipeline: Pipeline, route: str, envelopes: list[Envelope], reporter: _Reporter
) -> None:
    try:
        outcomes = await pipeline.route(route).deliver(envelopes)
    except Exception as exc:  # a route must not raise; if one does, nothing is lost
        log.exception("route %s raised; deferring %d messages", route, len(envelopes))
        outcomes = [
            Outcome(e.message_id, OutcomeKind.DEFERRED, f"internal route error: {exc}")
            for e in envelopes
        ]
    reporter.send(outcomes)


def _prepare(
    pipeline: Pipeline, jobs: list[Job], specs: dict[str, MessageSpec]
) -> tuple[dict[tuple[str, str], list[Envelope]], list[Outcome]]:
    groups: dict[tuple[str, str], list[Envelope]] = defaultdict(list)
    failed: list[Outcome] = []
    for job in jobs:
        spec = specs.get(job.spec_key)
        if spec is None:
            failed.append(Outcome(job.message_id, OutcomeKind.DEFERRED, "spec not received yet"))
            continue
        built = pipeline.build(job, spec, base64.b64decode(job.payload))
        if isinstance(built, Outcome):
            failed.append(built)
        else:
            groups[(job.route, built.domain)].append(built)
    return groups, failed


async def serve(settings: AgentSettings, conn: Connection) -> None:
    """Take batches until the coordinator says stop, then finish what is under way."""
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[WorkBatch | None] = asyncio.Queue()
    threading.Thread(target=_inbox_reader, args=(conn, loop, inbox), daemon=True).start()
    reporter = _Reporter(conn)
    pipeline = Pipeline.from_settings(settings)
    specs: dict[str, MessageSpec] = {}
    tasks: set[asyncio.Task[None]] = set()
    try:
        while (batch := await inbox.get()) is not None:
            specs.update(batch.specs)
            groups, failed = _prepare(pipeline, batch.jobs, specs)
            reporter.send(failed)
            for (route, _domain), envelopes in groups.items():
                task = asyncio.create_task(_deliver(pipeline, route, envelopes, reporter))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.sleep(0)  # let the new deliveries start before the next batch
        if tasks:
            await asyncio.wait(tasks)
    finally:
        await pipeline.close()


def main(settings_json: str, conn: Connection, index: int) -> None:
    """Entry point of a worker process."""
    # The coordinator decides when workers stop; Ctrl-C on the terminal reaches it first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings = AgentSettings.model_validate_json(settings_json)
    logs.configure(settings.log.level, settings.log.json_lines)
    log.debug("worker %d serving", index)
    asyncio.run(serve(settings, conn))
