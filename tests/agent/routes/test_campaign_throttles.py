"""The campaign throttles' shared bucket: worker processes taking tokens from one campaign."""

from __future__ import annotations

import asyncio
import bisect
import multiprocessing
import time
from multiprocessing.connection import Connection

from mailfleet.agent.routes.shaping import CampaignThrottles

RATE = 10  # a second
PER_PROCESS = 15


def _send(throttles: CampaignThrottles, slot: int, conn: Connection) -> None:
    """A stand-in worker: take PER_PROCESS tokens and report when each was taken."""

    async def run() -> list[float]:
        taken = []
        for _ in range(PER_PROCESS):
            await throttles.wait(slot)
            taken.append(time.monotonic())
        return taken

    conn.send(asyncio.run(run()))


def test_three_processes_share_one_campaign_rate() -> None:
    context = multiprocessing.get_context("spawn")
    throttles = CampaignThrottles(context)
    slot = throttles.assign(7, RATE * 60)
    pipes = [context.Pipe() for _ in range(3)]
    processes = [context.Process(target=_send, args=(throttles, slot, c)) for _, c in pipes]
    for p in processes:
        p.start()
    times = sorted(t for parent, _ in pipes for t in parent.recv())
    for p in processes:
        p.join()
    assert len(times) == 3 * PER_PROCESS
    # One second holds the rate plus the one token the bucket keeps; one more for a process
    # descheduled between taking its token and reading the clock.
    busiest = max(bisect.bisect_right(times, t + 1.0) - i for i, t in enumerate(times))
    assert busiest <= RATE + 1 + 1, busiest


def test_a_released_campaign_is_not_throttled_and_its_slot_is_reused() -> None:
    throttles = CampaignThrottles(multiprocessing.get_context("spawn"))
    slot = throttles.assign(1, 60)  # one a second
    now = time.monotonic()
    assert throttles.take(slot, now) == 0.0
    assert throttles.take(slot, now) > 0.5  # the next token is a second away
    throttles.release(1)
    assert throttles.take(slot, now) == 0.0
    assert throttles.assign(2, 60) == slot
