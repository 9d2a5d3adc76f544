"""The time cap on one message's rendering: a one-shot SIGALRM.

A template can loop for minutes without producing output, so the cap has to interrupt the
interpreter: ``setitimer`` raises :class:`RenderTimeout` from the signal handler at the next
bytecode (or inside a long regular-expression match, which checks for signals). Signals reach
only the main thread, where the worker renders; on any other thread there is no time cap,
only the renderer's size cap.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TypeVar

T = TypeVar("T")


class RenderTimeout(Exception):
    """The time cap of the message being rendered expired."""


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise RenderTimeout


_kept = False  # the handler stays installed for good (keep_handler)


def keep_handler() -> None:
    """Leave the cap's SIGALRM handler installed for good, for a process that renders all
    day and whose signals are its own (a worker): each capped call then only arms and
    disarms the timer, without two handler swaps per message."""
    global _kept
    signal.signal(signal.SIGALRM, _on_alarm)
    _kept = True


def run_capped(seconds: float, render: Callable[[], T]) -> T:
    """Call ``render``, interrupted with :class:`RenderTimeout` after ``seconds``.

    The previous SIGALRM handler and any timer already running (pytest-timeout uses one) are
    restored afterwards, the timer with what remained of it. A plain function rather than a
    context manager: an alarm due while ``__exit__`` is entered would escape the restore.
    """
    if threading.current_thread() is not threading.main_thread():
        return render()
    began = time.monotonic()
    # signal.getsignal wraps the handler in an enum lookup: the flag is cheaper to read.
    previous = _on_alarm if _kept else signal.getsignal(signal.SIGALRM)
    if previous is not _on_alarm:
        signal.signal(signal.SIGALRM, _on_alarm)
    outer, interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        if 0 < outer < seconds:
            # An outer timer due first keeps its moment; it is re-raised below.
            signal.setitimer(signal.ITIMER_REAL, outer)
        return render()
    finally:
        while True:
            # The one-shot alarm may still be pending: it raises here at most once, and the
            # restore is simply tried again (the rendering has ended either way).
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                if previous is not _on_alarm:
                    # None: a handler installed outside Python, which cannot be put back.
                    restore = signal.SIG_DFL if previous is None else previous
                    signal.signal(signal.SIGALRM, restore)
                break
            except RenderTimeout:
                continue
        if outer > 0:
            left = outer - (time.monotonic() - began)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6), interval)
