"""The worker processes, seen from the coordinator: start, feed, hear back, restart.

Each worker has a pipe; one thread per worker writes batches to it (a busy worker never blocks
the event loop) and one reads outcomes back and hands them to the loop. A worker that dies
closes its pipe: the reader notices and reports the exit, and the worker is started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from agent.delivery import worker
from agent.delivery.jobs import WorkBatch
from agent.delivery.settings import DeliveryInputs
from agent.routes.base import Outcome

log = logging.getLogger("mailfleet.agent.delivery")

OutcomeHandler = Callable[[int, list[Outcome]], None]
ExitHandler = Callable[[int], None]


@dataclass
class _Slot:
    index: int
    process: BaseProcess
    conn: Connection
    outbox: queue.SimpleQueue[WorkBatch | None] = field(default_factory=queue.SimpleQueue)
    known_specs: set[str] = field(default_factory=set)
    alive: bool = True


class WorkerPool:
    """N worker processes (spawned, so they share nothing with the coordinator's threads)."""

    def __init__(
        self, settings: DeliveryInputs, on_outcomes: OutcomeHandler, on_exit: ExitHandler
    ) -> None:
        self.size = settings.delivery.workers or multiprocessing.cpu_count()
        self._settings = settings
        self._on_outcomes = on_outcomes
        self._on_exit = on_exit
        self._context = multiprocessing.get_context("spawn")
        self._slots: list[_Slot] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.restarts = 0
        # Workers replaced on a reload that are still finishing their deliveries.
        self._retiring: list[_Slot] = []
        # Counts reloads: a message leased in an earlier generation is held by a retiring
        # worker, which a death in its slot's new process must not take back.
        self.generation = 0

    def start(self) -> None:
        """Start every worker; call from the coordinator's event loop."""
        self._loop = asyncio.get_running_loop()
        self._slots = [self._spawn(i) for i in range(self.size)]

    def _spawn(self, index: int) -> _Slot:
        # Called on the event loop's thread only: a worker's parent-death signal follows the
        # thread that started it, so one started by a passing thread would die with it.
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=worker.main,
            args=(self._settings, child, index, os.getpid()),
            name=f"mailfleet-worker-{index}",
            daemon=True,
        )
        process.start()
        child.close()
        slot = _Slot(index, process, parent)
        threading.Thread(
            target=self._write, args=(slot,), daemon=True, name=f"worker-{index}-writer"
        ).start()
        threading.Thread(
            target=self._read, args=(slot,), daemon=True, name=f"worker-{index}-reader"
        ).start()
        log.info("worker %d started (pid %s)", index, process.pid)
        return slot

    def _write(self, slot: _Slot) -> None:
        while (batch := slot.outbox.get()) is not None:
            try:
                slot.conn.send(batch)
            except (OSError, ValueError):
                return  # the reader reports the dead worker
        with contextlib.suppress(OSError, ValueError):
            slot.conn.send(None)  # the worker's signal to finish and exit

    def _read(self, slot: _Slot) -> None:
        assert self._loop is not None
        while True:
            try:
                outcomes: list[Outcome] = slot.conn.recv()
            except (EOFError, OSError):
                break
            self._loop.call_soon_threadsafe(self._on_outcomes, slot.index, outcomes)
        slot.alive = False
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._exited, slot)

    def _exited(self, slot: _Slot) -> None:
        slot.process.join(timeout=5)
        if self._slots and self._slots[slot.index] is slot:  # not stopping, not replaced yet
            self._on_exit(slot.index)
        elif slot in self._retiring:  # replaced on a reload and done
            self._retiring.remove(slot)
            slot.conn.close()

    def replace(self, settings: DeliveryInputs) -> None:
        """Start every worker afresh with new settings (routes, limits); the old ones finish
        the deliveries they hold, report them, and exit."""
        self._settings = settings
        self.generation += 1
        old, self._slots = self._slots, [self._spawn(i) for i in range(self.size)]
        for slot in old:
            slot.outbox.put(None)
        self._retiring.extend(old)

    def restart(self, index: int) -> None:
        """Start a new process in a slot whose worker has died."""
        old = self._slots[index]
        old.outbox.put(None)
        old.conn.close()
        self.restarts += 1
        log.warning(
            "worker %d (pid %s) exited with %s; restarting",
            index,
            old.process.pid,
            old.process.exitcode,
        )
        self._slots[index] = self._spawn(index)

    def send(self, index: int, batch: WorkBatch) -> bool:
        """Queue a batch for a worker; False when that worker is dead (nothing was sent)."""
        slot = self._slots[index]
        if not slot.alive:
            return False
        slot.outbox.put(batch)
        return True

    def knows(self, index: int, spec_key: str) -> bool:
        """Whether the worker has already been sent this spec (and remember that it will be)."""
        known = self._slots[index].known_specs
        if spec_key in known:
            return True
        known.add(spec_key)
        return False

    def pids(self) -> list[int | None]:
        """The workers' process ids (for status and tests)."""
        return [s.process.pid for s in self._slots]

    async def stop(self, grace: float) -> None:
        """Ask every worker to finish its deliveries and exit; kill any still running after
        ``grace`` seconds."""
        slots, self._slots = self._slots + self._retiring, []
        self._retiring = []
        for slot in slots:
            slot.outbox.put(None)
        deadline = asyncio.get_running_loop().time() + grace
        for slot in slots:
            remaining = max(0.0, deadline - asyncio.get_running_loop().time())
            await asyncio.to_thread(slot.process.join, remaining)
            if slot.process.is_alive():
                log.warning("worker %d did not finish in time; killing it", slot.index)
                slot.process.kill()
                await asyncio.to_thread(slot.process.join, 5)
            slot.conn.close()
