"""The store on a full disk (a real SQLite file on a small tmpfs that a filler fills): writes
that may wait are held in memory and committed once space is back, others fail at once with
DiskFull, and the state ends by itself."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest

from mailfleet.agent.store import inbound_mail
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.space import DiskFull
from mailfleet.agent.store.writer import MAX_HELD
from tests.peers.small_disk import SmallDisk

# Larger than all the free room the store's log has: a write of it needs new space.
_BIG = b"x" * (3 * 1024 * 1024)


def _keep(data: bytes) -> Callable[[sqlite3.Connection], list[int]]:
    return lambda c: inbound_mail.store(c, "127.0.0.1", "a@b.example", ["c@d.example"], data)


@pytest.fixture
async def full(tmp_path: Path) -> AsyncIterator[tuple[Store, SmallDisk]]:
    """A store whose disk is full, and in the disk-full state."""
    with SmallDisk(tmp_path / "data", mib=8) as disk:
        store = Store(disk.path / "agent.db")
        store.open()
        try:
            disk.fill()
            with pytest.raises(DiskFull):
                await store.write(_keep(_BIG))
            yield store, disk
        finally:
            store.close()


async def _rows(store: Store) -> int:
    return len(await store.read(lambda c: inbound_mail.oldest(c, 1000)))


async def test_a_held_write_waits_while_full_and_is_committed_once_space_is_back(
    full: tuple[Store, SmallDisk],
) -> None:
    store, disk = full
    assert store.space.full and store.space.describe() == f"disk full at {disk.path}"
    held = asyncio.ensure_future(store.write(_keep(_BIG), wait_for_space=True))
    # Retried with backoff for a while: still waiting, not failed, nothing written.
    await asyncio.sleep(1.5)
    assert not held.done() and store.space.held == 1
    assert await _rows(store) == 0
    disk.free()
    await asyncio.wait_for(held, 30)
    assert await _rows(store) == 1
    assert not store.space.full and store.space.held == 0
    await store.write(_keep(b"small"))  # an ordinary write goes through again
    assert await _rows(store) == 2


async def test_other_writes_fail_at_once_with_a_one_line_unavailable_error(
    full: tuple[Store, SmallDisk],
) -> None:
    store, _ = full
    with pytest.raises(DiskFull) as err:
        await asyncio.wait_for(store.write(_keep(b"small")), 5)
    assert err.value.status == grpc.StatusCode.UNAVAILABLE
    assert "\n" not in str(err.value) and "disk is full" in str(err.value)
    assert await _rows(store) == 0


async def test_holding_is_bounded_and_a_stop_gives_up_waiting(
    full: tuple[Store, SmallDisk],
) -> None:
    store, _ = full
    waiting = [
        asyncio.ensure_future(store.write(_keep(b"r"), wait_for_space=True))
        for _ in range(MAX_HELD + 1)
    ]
    done, _ = await asyncio.wait(waiting, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    [overflow] = done
    assert isinstance(overflow.exception(), DiskFull)
    store.give_up_waiting()
    results = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), 30)
    assert all(isinstance(r, DiskFull) for r in results)
    assert store.space.full
