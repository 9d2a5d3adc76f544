"""The worker processes, seen from the coordinator: start, feed, hear back, restart.

Each worker has a pipe; one thread per worker writes batches to it (a busy worker never blocks
the event loop) and one reads outcomes back and hands them to the loop. A worker that dies
closes its pipe: the reader notices and reports the exit (with the message it was building,
if any), and the worker is started again, after a growing pause if it keeps dying young.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from mailfleet.agent.delivery import worker
from mailfleet.agent.delivery.jobs import Report, WorkBatch
from mailfleet.agent.delivery.settings import DeliveryInputs
from mailfleet.agent.routes.shaping import CampaignThrottles

log = logging.getLogger("mailfleet.agent.delivery")

ReportHandler = Callable[[int, Report], None]
# (worker index, id of the message it died building, or 0)
ExitHandler = Callable[[int, int], None]

# A worker that dies sooner than this after it started is restarted at once the first time,
# then after a pause doubled for each further early death up to the cap: one that dies on
# every start must not spin.
_EARLY_DEATH = 30.0
_FIRST_PAUSE = 1.0
_MAX_PAUSE = 30.0


@dataclass
class _Slot:
    index: int
    process: BaseProcess
    conn: Connection
    building: ctypes.c_int64  # shared with the worker: the message it is building, or 0
    child: Connection | None  # the worker's end, until its process has started
    early_deaths: int = 0
    started: float = 0.0
    outbox: queue.SimpleQueue[WorkBatch | None] = field(default_factory=queue.SimpleQueue)
    known_specs: set[str] = field(default_factory=set)
    alive: bool = True
    serving: bool = False  # it has said so (its first report)


class WorkerPool:
    """N worker processes (spawned, so they share nothing with the coordinator's threads)."""

    def __init__(
        self, settings: DeliveryInputs, on_report: ReportHandler, on_exit: ExitHandler
    ) -> None:
        self.size = settings.delivery.workers or multiprocessing.cpu_count()
        self._settings = settings
        self._on_report = on_report
        self._on_exit = on_exit
        self._context = multiprocessing.get_context("spawn")
        # Every worker takes its throttled campaigns' tokens here, right before sending.
        self.throttles = CampaignThrottles(self._context)
        self._slots: list[_Slot] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.restarts = 0
        # Workers replaced on a reload that are still finishing their deliveries.
        self._retiring: list[_Slot] = []
        # Counts reloads: a message leased in an earlier generation is held by a retiring
        # worker, which a death in its slot's new process must not take back.
        self.generation = 0
        # Set once every worker of the first start has said it is serving.
        self.serving = asyncio.Event()

    def start(self) -> None:
        """Start every worker; call from the coordinator's event loop."""
        self._loop = asyncio.get_running_loop()
        self._slots = [self._spawn(i) for i in range(self.size)]

    def _spawn(self, index: int, pause: float = 0.0, early_deaths: int = 0) -> _Slot:
        # Called on the event loop's thread only: a worker's parent-death signal follows the
        # thread that started it, so one started by a passing thread would die with it.
        parent, child = self._context.Pipe(duplex=True)
        building = self._context.RawValue(ctypes.c_int64, 0)
        process = self._context.Process(
            target=worker.main,
            args=(self._settings, child, index, os.getpid(), building, self.throttles),
            name=f"mailfleet-worker-{index}",
            daemon=True,
        )
        # Batches sent to a slot whose worker is still pausing wait in its pipe.
        slot = _Slot(index, process, parent, building, child, early_deaths)
        threading.Thread(
            target=self._write, args=(slot,), daemon=True, name=f"worker-{index}-writer"
        ).start()
        threading.Thread(
            target=self._read, args=(slot,), daemon=True, name=f"worker-{index}-reader"
        ).start()
        if pause:
            assert self._loop is not None
            self._loop.call_later(pause, self._launch_after_pause, slot)
        else:
            self._launch(slot)
        return slot

    def _launch(self, slot: _Slot) -> None:
        if slot.child is None:
            return
        slot.process.start()
        slot.child.close()
        slot.child = None
        slot.started = time.monotonic()
        log.info("worker %d started (pid %s)", slot.index, slot.process.pid)

    def _launch_after_pause(self, slot: _Slot) -> None:
        if self._slots and self._slots[slot.index] is slot:
            self._launch(slot)
        else:  # stopped or replaced during its pause: never started
            self._abandon(slot)

    @staticmethod
    def _abandon(slot: _Slot) -> None:
        """Let a slot whose worker never started go: its reader sees the pipe's end."""
        if slot.child is not None:
            slot.child.close()
            slot.child = None

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
                report: Report = slot.conn.recv()
            except (EOFError, OSError):
                break
            self._loop.call_soon_threadsafe(self._heard, slot, report)
        slot.alive = False
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._exited, slot)

    def _heard(self, slot: _Slot, report: Report) -> None:
        if not slot.serving:
            slot.serving = True
            if all(s.serving for s in self._slots):
                self.serving.set()
        self._on_report(slot.index, report)

    def _exited(self, slot: _Slot) -> None:
        if slot.process.pid is not None:
            slot.process.join(timeout=5)
        self.throttles.recover()
        if self._slots and self._slots[slot.index] is slot:  # not stopping, not replaced yet
            self._on_exit(slot.index, slot.building.value)
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
        """Start a new process in a slot whose worker has died: at once if it had run a
        while or died young only once, else after a pause that doubles with each early death."""
        old = self._slots[index]
        old.outbox.put(None)
        old.conn.close()
        self.restarts += 1
        early = old.early_deaths + 1 if time.monotonic() - old.started < _EARLY_DEATH else 0
        pause = min(_MAX_PAUSE, _FIRST_PAUSE * 2 ** (early - 2)) if early > 1 else 0.0
        log.warning(
            "worker %d (pid %s) exited with %s; restarting in %.0f s",
            index,
            old.process.pid,
            old.process.exitcode,
            pause,
        )
        self._slots[index] = self._spawn(index, pause, early)

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

    def retiring_pids(self) -> tuple[int, ...]:
        """The process ids of workers replaced on a reload that are still finishing."""
        return tuple(s.process.pid for s in self._retiring if s.process.pid is not None)

    async def stop(self, grace: float) -> None:
        """Ask every worker to finish its deliveries and exit; kill any still running after
        ``grace`` seconds."""
        slots, self._slots = self._slots + self._retiring, []
        self._retiring = []
        for slot in slots:
            slot.outbox.put(None)
        deadline = asyncio.get_running_loop().time() + grace
        for slot in slots:
            if slot.child is not None:  # still pausing: it is never started
                self._abandon(slot)
            else:
                remaining = max(0.0, deadline - asyncio.get_running_loop().time())
                await asyncio.to_thread(slot.process.join, remaining)
                if slot.process.is_alive():
                    log.warning("worker %d did not finish in time; killing it", slot.index)
                    slot.process.kill()
                    await asyncio.to_thread(slot.process.join, 5)
            slot.conn.close()
