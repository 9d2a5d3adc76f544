"""The event loop every agent process runs on: uvloop where it exists, else asyncio's own."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to the end on a new event loop.

    uvloop's C loop spends about half the CPU of asyncio's per SMTP round trip, which the
    coordinator's intake and the workers' deliveries make thousands of a second; Windows has
    no uvloop and gets the standard loop.
    """
    if sys.platform == "win32":
        return asyncio.run(main)
    import uvloop

    return uvloop.run(main)
