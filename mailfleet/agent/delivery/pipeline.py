"""Render → sign → route: the worker's per-message work, built once per worker process."""

from __future__ import annotations

import logging
import re
import socket
from email.errors import MessageError

from mailfleet.agent.delivery.jobs import Job, MessageSpec
from mailfleet.agent.delivery.settings import DeliveryInputs
from mailfleet.agent.dkim.keys import load_keys
from mailfleet.agent.dkim.signer import DkimSigner, SignError
from mailfleet.agent.feedback import raw_mime
from mailfleet.agent.feedback.links import FeedbackLinks, MessageFeedback
from mailfleet.agent.feedback.tokens import Subject, TokenKey
from mailfleet.agent.model import payload
from mailfleet.agent.render.message import Renderer, RenderError
from mailfleet.agent.routes.base import Envelope, Outcome, OutcomeKind
from mailfleet.agent.routing.build import build_routes, build_sources
from mailfleet.agent.routing.router import Router
from mailfleet.agent.routing.rules import MessageFacts, Plan, RoutingTable
from mailfleet.agent.validation import needs_smtputf8

log = logging.getLogger("mailfleet.agent.delivery")

_LINE_END = re.compile(rb"\r\n|\n|\r")


def _crlf(raw: bytes) -> bytes:
    """Raw MIME from clients may end lines with bare LF or bare CR; SMTP wants CRLF.

    Every bare CR and LF becomes CRLF here, before signing, exactly as the SMTP session
    would turn them on the wire, so the signature covers the bytes that are sent."""
    pairs = raw.count(b"\r\n")
    if raw.count(b"\r") == pairs and raw.count(b"\n") == pairs:
        return raw
    return _LINE_END.sub(b"\r\n", raw)


def _own_mime(raw: bytes, feedback: MessageFeedback) -> bytes:
    """A client's MIME with the feedback header fields and, when tracked, its HTML tracked.

    Tracking that fails on MIME too broken to re-serialise sends the message untracked:
    losing an open or a click is better than losing the message."""
    data = _crlf(raw)
    if feedback.tracker is not None:
        try:
            data = raw_mime.track_html(data, feedback.tracker)
        except (MessageError, LookupError, UnicodeError, ValueError, TypeError) as exc:
            log.warning("a submitted message is sent untracked: its MIME is broken (%s)", exc)
    return raw_mime.add_fields(data, feedback.headers)


class Pipeline:
    """The renderer, the DKIM signer and the routers of one worker."""

    def __init__(
        self,
        renderer: Renderer,
        signer: DkimSigner,
        router: Router,
        transactional_router: Router,
        links: FeedbackLinks,
    ) -> None:
        self._renderer = renderer
        self._signer = signer
        self._links = links
        self._router = router
        # The same routes again, with their own connection pools: a transactional message
        # never waits for a connection behind thousands of queued campaign messages.
        self._transactional_router = transactional_router

    @classmethod
    def from_settings(cls, settings: DeliveryInputs, worker: int = 0) -> Pipeline:
        """Everything a worker needs, from the agent's settings and data directory.

        Its rules are the config's until the scheduler sends the table in force."""
        d = settings.delivery
        renderer = Renderer(
            hostname=d.hostname or socket.getfqdn(),
            timeout_seconds=d.render_timeout_seconds,
            max_bytes=d.render_max_bytes,
        )
        table = RoutingTable(tuple(settings.routing.rules), d.default_route)
        resolvers = settings.routing.resolvers
        sources = build_sources(settings, worker)  # shared by both lanes: one set of quotas
        return cls(
            renderer,
            DkimSigner(load_keys(settings.dkim_dir)),
            Router(table, build_routes(settings, sources), settings.routes, resolvers),
            Router(table, build_routes(settings, sources), settings.routes, resolvers),
            FeedbackLinks(
                TokenKey.load_or_create(settings.feedback_key_file),
                settings.http.base_url,
                settings.intake.bounce_domain,
            ),
        )

    def set_table(self, table: RoutingTable) -> None:
        """Route by ``table`` from now on."""
        self._router.table = self._transactional_router.table = table

    async def plan(self, job: Job, spec: MessageSpec, envelope: Envelope) -> Plan:
        """The route (and failover) the rules pick for one built message; a route or IP pool
        the message asked for itself (SMTP's X-Mailfleet-Route, -Pool) comes before every rule."""
        if spec.route:
            return Plan("requested", spec.route)
        if spec.pool:
            return Plan("requested", self._router.pool_route(spec.pool))
        facts = MessageFacts(
            tenant=spec.tenant,
            sender_domain=spec.sender.from_address.rpartition("@")[2].lower(),
            recipient_domain=envelope.domain,
            tags=spec.tags,
            transactional=job.transactional,
        )
        return await self._router.plan(facts)

    def destination(self, plan: Plan, envelope: Envelope) -> str:
        """What ``envelope`` is delivered together with under ``plan``: its recipient domain
        by direct MX, where a slow domain must not hold back another's outcomes; "" (all in
        one batch, over the same connections) through a relay or a provider."""
        return envelope.domain if self._router.per_domain(plan) else ""

    async def deliver(
        self, plan: Plan, envelopes: list[Envelope], *, transactional: bool = False
    ) -> list[Outcome]:
        """Deliver one destination's envelopes of one lane as ``plan`` says."""
        router = self._transactional_router if transactional else self._router
        return await router.deliver(plan, envelopes)

    def build(self, job: Job, spec: MessageSpec) -> Envelope | Outcome:
        """The signed message for one job, or a FAILED outcome saying why it cannot be built.

        Campaign messages carry List-Unsubscribe (covered by DKIM); every message carries the
        CFBL fields and, when tracked, an open pixel and rewritten links (a client's raw MIME
        in its HTML parts), and goes out from its VERP return path.
        """
        feedback = self._links.for_message(
            Subject(job.tenant_id, job.campaign_id, job.message_id),
            bulk=not job.transactional,
            opens=spec.tracking.opens,
            clicks=spec.tracking.clicks,
        )
        rendered = spec.raw_mime is None
        if spec.raw_mime is not None:
            data = _own_mime(spec.raw_mime, feedback)
        else:
            assert spec.content is not None
            try:
                recipient = payload.decode(job.payload)
            except payload.PayloadError as exc:
                log.warning("message %d: unreadable recipient data: %s", job.message_id, exc)
                return Outcome(
                    job.message_id, OutcomeKind.FAILED, "the stored recipient data is unreadable"
                )
            try:
                data = self._renderer.render(
                    message_id=job.message_id,
                    sender=spec.sender,
                    content=spec.content,
                    to_email=job.rcpt_to,
                    to_name=recipient.name,
                    fields=recipient.merge_fields(job.field_names),
                    agent_headers=feedback.headers,
                    agent_variables={
                        "unsubscribe_url": feedback.unsubscribe_url,
                        "preferences_url": feedback.preferences_url,
                        "web_version_url": feedback.web_version_url,
                    },
                    html_filter=feedback.tracker,
                )
            except RenderError as exc:
                return Outcome(job.message_id, OutcomeKind.FAILED, f"rendering failed: {exc}")
        try:
            signed = self._signer.sign(data, crlf=rendered)
        except SignError as exc:  # only a client's raw MIME can be this malformed
            return Outcome(job.message_id, OutcomeKind.FAILED, f"DKIM signing failed: {exc}")
        # Every message goes out from its VERP return path when the agent has a bounce
        # domain, a client's own MIME too (its From: and Reply-To: stay as the client wrote
        # them), so bounces of submitted mail come back to the agent like campaign bounces.
        mail_from = feedback.return_path or spec.sender.from_address
        # Only the rendered header can carry the sender's UTF-8 address (RFC 6532); a
        # client's own MIME is sent as it came, judged by its envelope alone.
        sender = spec.sender
        utf8_headers = (
            rendered
            and not (sender.from_address.isascii() and sender.reply_to.isascii())
            and (needs_smtputf8(sender.from_address) or needs_smtputf8(sender.reply_to))
        )
        return Envelope(job.message_id, mail_from, job.rcpt_to, signed, utf8_headers)

    async def close(self) -> None:
        """Close every route's connections."""
        await self._router.close()
        await self._transactional_router.close()
