"""Streams that outlive an agent restart: reopened with back-off while the agent is away.

A script following events or a campaign should not die when the agent restarts for an
upgrade; it waits, reconnects, and picks up where it stopped. Only ``UNAVAILABLE`` (the agent
cannot be reached) is waited out; every other status is the caller's to see.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import grpc

T = TypeVar("T")

# Told before each wait: what went wrong (one line) and how many seconds until the retry.
OnRetry = Callable[[str, float], None]

FIRST_WAIT = 1.0
LONGEST_WAIT = 30.0


def reconnecting(
    open_stream: Callable[[], Iterator[T]],
    on_retry: OnRetry | None = None,
    *,
    first_wait: float = FIRST_WAIT,
    longest_wait: float = LONGEST_WAIT,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[T]:
    """Items from ``open_stream()``, reopened after ``UNAVAILABLE`` until it ends by itself.

    ``open_stream`` is called again for every reconnect, so it must resume from what was
    already yielded (a cursor the caller keeps up to date). The wait doubles from
    ``first_wait`` up to ``longest_wait`` and starts again after an item arrives.
    """
    wait = first_wait
    while True:
        try:
            for item in open_stream():
                wait = first_wait
                yield item
            return
        except grpc.RpcError as exc:
            if exc.code() is not grpc.StatusCode.UNAVAILABLE:
                raise
            if on_retry is not None:
                on_retry(f"the agent is unreachable ({exc.details() or 'no answer'})", wait)
            sleep(wait)
            wait = min(wait * 2, longest_wait)
