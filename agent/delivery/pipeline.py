"""Render → sign → route: the worker's per-message work, built once per worker process."""

from __future__ import annotations

import socket
from collections.abc import Sequence

from agent.config import AgentSettings
from agent.delivery.jobs import Job, MessageSpec
from agent.dkim.keys import load_keys
from agent.dkim.signer import DkimSigner, SignError
from agent.render.message import Renderer, RenderError
from agent.routes.base import Envelope, Outcome, OutcomeKind, Route
from agent.routes.factory import build_routes
from mailfleet.v1 import common_pb2


class _MissingRoute:
    """Stands in for a route name the configuration does not define: fails, never sends."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def deliver(self, batch: Sequence[Envelope]) -> list[Outcome]:
        return [
            Outcome(e.message_id, OutcomeKind.FAILED, f"no route named {self.name!r}")
            for e in batch
        ]

    async def close(self) -> None:
        return None


def _crlf(raw: bytes) -> bytes:
    """Raw MIME from clients may use bare LF; SMTP wants CRLF."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class Pipeline:
    """The renderer, the DKIM signer and the routes of one worker."""

    def __init__(
        self,
        renderer: Renderer,
        signer: DkimSigner,
        routes: dict[str, Route],
        transactional_routes: dict[str, Route],
    ) -> None:
        self._renderer = renderer
        self._signer = signer
        self._routes = routes
        # The same routes again, with their own connection pools: a transactional message
        # never waits for a connection behind thousands of queued campaign messages.
        self._transactional_routes = transactional_routes

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> Pipeline:
        """Everything a worker needs, from the agent's settings and data directory."""
        d = settings.delivery
        renderer = Renderer(
            hostname=d.hostname or socket.getfqdn(),
            timeout_seconds=d.render_timeout_seconds,
            max_bytes=d.render_max_bytes,
        )
        return cls(
            renderer,
            DkimSigner(load_keys(settings.dkim_dir)),
            build_routes(settings),
            build_routes(settings),
        )

    def route(self, name: str, *, transactional: bool = False) -> Route:
        """The route called ``name`` for a lane (one that fails every message if there is none)."""
        routes = self._transactional_routes if transactional else self._routes
        return routes.get(name) or _MissingRoute(name)

    def build(self, job: Job, spec: MessageSpec, payload: bytes) -> Envelope | Outcome:
        """The signed message for one job, or a FAILED outcome saying why it cannot be built."""
        if spec.raw_mime is not None:
            data = _crlf(spec.raw_mime)
        else:
            assert spec.content is not None
            recipient = common_pb2.Recipient.FromString(payload)
            fields = dict(zip(job.field_names, recipient.values, strict=False))
            fields.update(recipient.fields)
            try:
                data = self._renderer.render(
                    message_id=job.message_id,
                    sender=spec.sender,
                    content=spec.content,
                    to_email=job.rcpt_to,
                    to_name=recipient.name,
                    fields=fields,
                )
            except RenderError as exc:
                return Outcome(job.message_id, OutcomeKind.FAILED, f"rendering failed: {exc}")
        try:
            signed = self._signer.sign(data)
        except SignError as exc:  # only a client's raw MIME can be this malformed
            return Outcome(job.message_id, OutcomeKind.FAILED, f"DKIM signing failed: {exc}")
        return Envelope(job.message_id, spec.sender.from_address, job.rcpt_to, signed)

    async def close(self) -> None:
        """Close every route's connections."""
        for route in [*self._routes.values(), *self._transactional_routes.values()]:
            await route.close()
