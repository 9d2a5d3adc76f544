"""The audit log as the API writes it: one entry per state-changing call, and one summary per
key, peer and minute for transactional sends.

An entry is written through the store's writer without an fsync of its own (``durable=False``):
it joins the next group commit, and the next durable commit (the very next send's, on a busy
agent) makes it durable with everything else. The call is answered after its entry is
committed, so what a client did is in the log when it hears back.

Transactional sends are summarised rather than logged one by one: each is already recorded as
a message with its events, and one audit row per send would double the writes of the hottest
RPC and bury the changes people read the log for. A summary says who sent how many messages in
how many calls from where, per minute (``SUMMARY_SECONDS``); the summaries in memory are written
when the agent stops, and a crash loses at most that minute's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from google.protobuf.message import Message

from mailfleet.agent.store import audit
from mailfleet.agent.store.audit import AuditEntry
from mailfleet.agent.store.handle import Store

if TYPE_CHECKING:
    from mailfleet.agent.api.auth import Principal

log = logging.getLogger("mailfleet.agent.api")

SUMMARY_SECONDS = 60.0
# Request fields a summary may show: labels and names a person needs to read the change, never
# secrets, bodies, addresses or URLs (which may carry tokens). Ids (``*_id``) are shown too, and
# repeated fields only as a count.
_SHOWN = frozenset(
    {
        "name",
        "domain",
        "selector",
        "algorithm",
        "username",
        "kind",
        "scope",
        "reason",
        "admin",
        "person",
        "enabled",
        "all_tenants",
        "all",
        "transactional_only",
        "public_id",
    }
)
_MAX_VALUE = 60
_MAX_SUMMARY = 300


def peer_host(peer: str) -> str:
    """The address part of gRPC's ``ipv4:1.2.3.4:5678`` / ``ipv6:[::1]:5678`` peer string."""
    kind, _, rest = peer.partition(":")
    if kind not in ("ipv4", "ipv6"):
        return peer
    return rest.rsplit(":", 1)[0].strip("[]")


def _fields(message: Message, prefix: str = "") -> list[str]:
    parts: list[str] = []
    for field, value in message.ListFields():
        name = prefix + field.name
        if field.is_repeated:
            parts.append(f"{name}: {len(value)}")
        elif field.type == field.TYPE_MESSAGE:
            if not prefix:  # one level down: a selection, a key
                parts.extend(_fields(value, f"{name}."))
        elif field.name in _SHOWN or field.name == "id" or field.name.endswith("_id"):
            quoted = isinstance(value, str)
            if field.enum_type is not None:
                value = field.enum_type.values_by_number[value].name
            text = str(value)
            if len(text) > _MAX_VALUE:
                text = text[: _MAX_VALUE - 1] + "…"
            parts.append(f"{name}={text!r}" if quoted else f"{name}={text}")
    return parts


def _names_what_was_made(name: str) -> bool:
    leaf = name.rsplit(".", 1)[-1]
    return leaf == "id" or (leaf.endswith("_id") and leaf != "tenant_id")


def summarise(request: Message | None, response: Message | None, batches: int = 0) -> str:
    """A short line of what a call changed: the request's shown fields (a stream's first
    batch's, and how many batches), and the ids the response names."""
    parts = _fields(request) if request is not None else []
    if batches:
        parts.append(f"batches: {batches}")
    if response is not None:
        made = [p for p in _fields(response) if _names_what_was_made(p.split("=")[0])]
        parts.extend(f"-> {p}" for p in made)
    text = ", ".join(parts)
    return text if len(text) <= _MAX_SUMMARY else text[: _MAX_SUMMARY - 1] + "…"


@dataclass
class _Sends:
    calls: int = 0
    messages: int = 0
    first: float = 0.0


class AuditLog:
    """Writes the API's audit entries and keeps the running summaries of sends."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._sends: dict[tuple[int, str, str, str, str, str], _Sends] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    async def record(
        self, who: Principal, peer: str, action: str, summary: str, outcome: str
    ) -> None:
        """Write one entry, committed (not fsync'd) before this returns; a failure to write
        it (a full disk) is logged, never the caller's error."""
        entry = AuditEntry(
            time.time(),
            who.tenant_id,
            who.key_id,
            who.key_name,
            who.person,
            peer,
            action,
            summary,
            outcome,
        )
        await self._write([entry])

    def count_send(self, who: Principal, peer: str, action: str, messages: int) -> None:
        """Add a transactional send to this minute's summary for its key and peer."""
        slot = (who.tenant_id, who.key_id, who.key_name, who.person, peer, action)
        sends = self._sends.get(slot)
        if sends is None:
            sends = self._sends[slot] = _Sends(first=time.time())
        sends.calls += 1
        sends.messages += messages
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(SUMMARY_SECONDS, self._due)

    def _due(self) -> None:
        self._timer = None
        task = asyncio.get_running_loop().create_task(self.flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def flush(self) -> None:
        """Write the summaries of sends held in memory, one entry per key, peer and RPC."""
        held, self._sends = self._sends, {}
        if not held:
            return
        now = time.time()
        entries = [
            AuditEntry(
                now,
                tenant_id,
                key_id,
                key_name,
                person,
                peer,
                action,
                f"{s.messages} {'message' if s.messages == 1 else 'messages'} in {s.calls}"
                f" {'call' if s.calls == 1 else 'calls'} since"
                f" {time.strftime('%H:%M:%S', time.gmtime(s.first))} UTC",
                "ok",
                s.calls,
            )
            for (tenant_id, key_id, key_name, person, peer, action), s in held.items()
        ]
        await self._write(entries)

    async def close(self) -> None:
        """Write what is held; call before the store closes."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._flushing)
        await self.flush()

    async def _write(self, entries: list[AuditEntry]) -> None:
        try:
            await self._store.write(lambda c: audit.append(c, entries), durable=False)
        except Exception as exc:  # a full disk: the change itself stands; say what was lost
            log.warning("%d audit entries not written: %s", len(entries), type(exc).__name__)
