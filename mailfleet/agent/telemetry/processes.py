"""The worker processes' memory, CPU and open files, read from ``/proc`` at each scrape.

The coordinator's own figures are prometheus_client's ``process_*``; this adds each worker's
(by its slot, the ``worker`` label, so a restarted worker keeps its series) and the agent's
totals, coordinator and workers together. Workers themselves count nothing: every outcome
reaches the coordinator over the pipe and is counted there once it is committed (see
docs/operations.md, "Metrics and worker processes").
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = resource.getpagesize()


def _boot_time() -> float:
    with open("/proc/stat", "rb") as stat:
        for line in stat:
            if line.startswith(b"btime "):
                return float(line.split()[1])
    return 0.0


_BOOT = _boot_time()


@dataclass(frozen=True)
class ProcessFigures:
    """One process as ``/proc`` shows it."""

    resident_bytes: float
    cpu_seconds: float
    open_fds: int
    start_time: float  # seconds since the epoch


def read_process(pid: int) -> ProcessFigures | None:
    """The figures of process ``pid``; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # The fields after the command name, which may itself hold spaces and ")".
            parts = f.read().rpartition(b")")[2].split()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    return ProcessFigures(
        resident_bytes=float(parts[21]) * _PAGE,
        cpu_seconds=(float(parts[11]) + float(parts[12])) / _TICKS,
        open_fds=fds,
        start_time=_BOOT + float(parts[19]) / _TICKS,
    )


def _own_cpu() -> tuple[float, float]:
    """CPU seconds of the coordinator, and of its children that have exited and been reaped
    (the kernel's exact account of every worker that has ended)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    gone = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, gone.ru_utime + gone.ru_stime


class ProcessTally:
    """Keeps the CPU counters from going backwards when a worker is restarted.

    A slot's counter adds up the processes that have run in it: when its pid changes, the
    last figure read of the old process is kept (what it used after the last scrape is in the
    agent's total only). The agent's total reads the kernel's account of the exited workers,
    so it misses nothing; a worker reaped between two reads could make it dip for one scrape,
    which the high-water mark hides.
    """

    def __init__(self) -> None:
        self._slots: dict[int, tuple[int, float, float]] = {}  # slot: (pid, done, last read)
        self._agent_cpu = 0.0

    def _slot_cpu(self, slot: int, pid: int, cpu: float) -> float:
        last_pid, done, last = self._slots.get(slot, (pid, 0.0, 0.0))
        if last_pid != pid:
            done, last = done + last, 0.0
        last = max(last, cpu)
        self._slots[slot] = (pid, done, last)
        return done + last

    def collect(self, workers: Sequence[int | None], retiring: Iterable[int]) -> Iterable[Metric]:
        """The figures of workers (by slot; None: not started) and the agent's totals;
        ``retiring`` are workers replaced on a reload that are still finishing."""
        own_cpu, exited_cpu = _own_cpu()
        coordinator = read_process(os.getpid())
        rss = coordinator.resident_bytes if coordinator else 0.0
        live_cpu = 0.0
        memory = GaugeMetricFamily(
            "mailfleet_worker_resident_memory_bytes",
            "Resident memory of each worker process.",
            labels=["worker"],
        )
        cpu = CounterMetricFamily(
            "mailfleet_worker_cpu_seconds",
            "User and system CPU time of the processes that have run in each worker slot.",
            labels=["worker"],
        )
        fds = GaugeMetricFamily(
            "mailfleet_worker_open_fds", "Open file descriptors of each worker.", labels=["worker"]
        )
        started = GaugeMetricFamily(
            "mailfleet_worker_start_time_seconds",
            "When each worker process started (it changes when the worker is restarted).",
            labels=["worker"],
        )
        for slot, pid in enumerate(workers):
            figures = None if pid is None else read_process(pid)
            if pid is None or figures is None:
                continue
            label = [str(slot)]
            rss += figures.resident_bytes
            live_cpu += figures.cpu_seconds
            memory.add_metric(label, figures.resident_bytes)
            cpu.add_metric(label, self._slot_cpu(slot, pid, figures.cpu_seconds))
            fds.add_metric(label, figures.open_fds)
            started.add_metric(label, figures.start_time)
        for pid in retiring:
            if (figures := read_process(pid)) is not None:
                rss += figures.resident_bytes
                live_cpu += figures.cpu_seconds
        self._agent_cpu = max(self._agent_cpu, own_cpu + exited_cpu + live_cpu)
        yield from (memory, cpu, fds, started)
        yield GaugeMetricFamily(
            "mailfleet_agent_resident_memory_bytes",
            "Resident memory of the coordinator and every worker, added up.",
            rss,
        )
        yield CounterMetricFamily(
            "mailfleet_agent_cpu_seconds",
            "User and system CPU time of the coordinator and every worker, those that have"
            " exited included.",
            self._agent_cpu,
        )
