"""A typed, blocking client of one agent, for scripts and automation.

See ``examples/`` and docs/automation.md; it is built on the pinned channel and the stubs of
this package.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from mailfleet.agent.client.channel import channel
from mailfleet.agent.client.reconnect import OnRetry, reconnecting
from mailfleet.agent.client.stubs import AgentStubs
from mailfleet.agent.identity.pairing import Pairing, parse
from mailfleet.v1 import (
    agent_pb2,
    audience_pb2,
    automations_pb2,
    campaigns_pb2,
    common_pb2,
    events_pb2,
    queue_pb2,
    sending_domains_pb2,
    signups_pb2,
    smtp_users_pb2,
    transactional_pb2,
)

# Deadline of the unary calls the client wraps.
_TIMEOUT = 60.0


@dataclass(frozen=True)
class Upload:
    """What an upload of recipients came to: ``received == accepted + len(rejected)``."""

    received: int
    accepted: int
    # (position in the upload, address, why) of each refused row
    rejected: list[tuple[int, str, str]]


class AgentClient:
    """A typed, blocking client of one agent, for scripts and automation.

    ::

        from mailfleet.agent.client import AgentClient

        with AgentClient.connect(os.environ["MAILFLEET_PAIRING"]) as agent:
            agent.send_message("receipt-1042", "buyer@example.com", "orders@shop.example",
                               subject="Order {{ order }}", text="Thanks!",
                               fields={"order": "1042"})

    Every call goes over TLS pinned to the pairing's fingerprint with the pairing's API key.
    Errors are ``grpc.RpcError`` with the agent's status and message (``INVALID_ARGUMENT``
    names the field). The generated stubs of every service are in :attr:`stubs` for calls
    this class does not wrap.
    """

    def __init__(self, pairing: Pairing, max_receive_mib: int = 64) -> None:
        self.pairing = pairing
        self._channel = channel(pairing, max_receive_mib)
        self.stubs = AgentStubs.on(self._channel)

    @classmethod
    def connect(cls, pairing: str | Pairing) -> AgentClient:
        """Connect with a pairing string (``mailfleet://HOST:PORT?fp=...&key=...``)."""
        return cls(parse(pairing) if isinstance(pairing, str) else pairing)

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def info(self) -> agent_pb2.GetInfoResponse:
        """The agent's id, version and uptime."""
        return self.stubs.info.GetInfo(agent_pb2.GetInfoRequest(), timeout=_TIMEOUT)

    def send_message(
        self,
        idempotency_key: str,
        to: str,
        from_address: str,
        *,
        subject: str,
        text: str = "",
        html: str = "",
        fields: Mapping[str, str] | None = None,
        from_name: str = "",
        tags: Sequence[str] = (),
    ) -> transactional_pb2.SendMessageResponse:
        """Queue one transactional message (Jinja2 templates rendered with ``fields``).

        Sending the same ``idempotency_key`` again returns the first message (``duplicate``).
        """
        request = transactional_pb2.SendMessageRequest(
            idempotency_key=idempotency_key,
            sender=common_pb2.Sender(from_address=from_address, from_name=from_name),
            to=common_pb2.Recipient(email=to, fields=dict(fields or {})),
            content=common_pb2.Content(subject=subject, text=text, html=html),
            tags=list(tags),
        )
        return self.stubs.transactional.SendMessage(request, timeout=_TIMEOUT)

    def subscribe(
        self,
        idempotency_key: str,
        form_id: str,
        email: str,
        *,
        fields: Mapping[str, str] | None = None,
        lists: Sequence[str] = (),
        skip_confirmation: bool = False,
        ip: str = "",
        user_agent: str = "",
        language: str = "",
    ) -> signups_pb2.SubscribeResponse:
        """Sign ``email`` up through the form ``form_id`` (its fields checked as the form
        checks them; ``lists`` empty for all the form's): pending with a confirmation mail, or
        subscribed at once with ``skip_confirmation``. ``ip`` and ``user_agent`` (or the
        channel, e.g. "shop checkout") go into the consent record.

        The same ``idempotency_key`` again does nothing new and returns that signup as it is
        now (``duplicate``), so calling again shows whether it was confirmed.
        """
        request = signups_pb2.SubscribeRequest(
            idempotency_key=idempotency_key,
            form_id=form_id,
            email=email,
            fields=dict(fields or {}),
            lists=list(lists),
            skip_confirmation=skip_confirmation,
            ip=ip,
            user_agent=user_agent,
            language=language,
        )
        return self.stubs.signups.Subscribe(request, timeout=_TIMEOUT)

    def contact(self, email: str) -> audience_pb2.Contact:
        """Where ``email`` stands on this agent: pending, confirmed, unsubscribed, suppressed
        or unknown; its lists, fields and signups."""
        request = audience_pb2.GetContactRequest(email=email)
        return self.stubs.audience.GetContact(request, timeout=_TIMEOUT)

    def update_contact(
        self, idempotency_key: str, email: str, fields: Mapping[str, str]
    ) -> audience_pb2.UpdateContactResponse:
        """Set some of ``email``'s fields; the desktop updates its contact when it syncs."""
        request = audience_pb2.UpdateContactRequest(
            idempotency_key=idempotency_key, email=email, fields=dict(fields)
        )
        return self.stubs.audience.UpdateContact(request, timeout=_TIMEOUT)

    def unsubscribe(
        self, idempotency_key: str, email: str, list_id: str = ""
    ) -> audience_pb2.UnsubscribeResponse:
        """Unsubscribe ``email`` from the list ``list_id``, or from every campaign."""
        request = audience_pb2.UnsubscribeRequest(
            idempotency_key=idempotency_key, email=email, list_id=list_id
        )
        return self.stubs.audience.Unsubscribe(request, timeout=_TIMEOUT)

    def send_event(
        self,
        idempotency_key: str,
        name: str,
        email: str,
        fields: Mapping[str, str] | None = None,
    ) -> automations_pb2.SendEventResponse:
        """Tell the agent's automations that ``name`` happened to ``email`` (an order placed,
        with its ``fields``): the contact enters each active automation it triggers. The same
        ``idempotency_key`` again enrols nobody twice."""
        request = automations_pb2.SendEventRequest(
            name=name, email=email, fields=dict(fields or {}), idempotency_key=idempotency_key
        )
        return self.stubs.automations.SendEvent(request, timeout=_TIMEOUT)

    def create_campaign(
        self,
        idempotency_key: str,
        name: str,
        from_address: str,
        *,
        subject: str,
        text: str = "",
        html: str = "",
        from_name: str = "",
        throttle_per_minute: int = 0,
    ) -> campaigns_pb2.Campaign:
        """Create a campaign in draft; upload recipients, then :meth:`start_campaign`."""
        request = campaigns_pb2.CreateCampaignRequest(
            idempotency_key=idempotency_key,
            name=name,
            sender=common_pb2.Sender(from_address=from_address, from_name=from_name),
            content=common_pb2.Content(subject=subject, text=text, html=html),
            throttle_per_minute=throttle_per_minute,
        )
        return self.stubs.campaigns.CreateCampaign(request, timeout=_TIMEOUT)

    def upload_recipients(
        self,
        campaign_id: int,
        rows: Iterable[Mapping[str, str]],
        *,
        email_field: str = "email",
        batch_size: int = 1000,
    ) -> Upload:
        """Stream recipients: each row's ``email_field`` is the address, the other keys are
        merge fields (the first row's keys name them). Sending rows again rejects them as
        duplicates, so an interrupted upload is resumed by uploading everything again."""
        batches = _recipient_batches(campaign_id, rows, email_field, batch_size)
        summary = self.stubs.campaigns.UploadRecipients(batches)
        return Upload(
            summary.received,
            summary.accepted,
            [
                (r.index, r.email, r.detail or common_pb2.RejectReason.Name(r.reason))
                for r in summary.rejections
            ],
        )

    def start_campaign(self, campaign_id: int) -> campaigns_pb2.Campaign:
        """Start sending a campaign."""
        ref = campaigns_pb2.CampaignRef(campaign_id=campaign_id)
        return self.stubs.campaigns.StartCampaign(ref, timeout=_TIMEOUT)

    def watch_campaign(
        self, campaign_id: int, timeout: float | None = None
    ) -> Iterator[campaigns_pb2.Campaign]:
        """The campaign's state and counts as they change, until it is finished."""
        ref = campaigns_pb2.CampaignRef(campaign_id=campaign_id)
        yield from self.stubs.campaigns.WatchCampaign(ref, timeout=timeout)

    def follow_campaign(
        self, campaign_id: int, on_retry: OnRetry | None = None
    ) -> Iterator[campaigns_pb2.Campaign]:
        """Like :meth:`watch_campaign`, across agent restarts: while the agent cannot be
        reached the watch is reopened with back-off, and ``on_retry(why, seconds)`` is told."""
        return reconnecting(lambda: self.watch_campaign(campaign_id), on_retry)

    def follow_events(
        self, after_seq: int = 0, on_retry: OnRetry | None = None
    ) -> Iterator[events_pb2.Event]:
        """Events after ``after_seq`` for as long as you read, across agent restarts.

        While the agent cannot be reached it is retried with back-off (``on_retry(why,
        seconds)`` is told), and the stream resumes after the last event yielded: nothing is
        missed or repeated.
        """
        last = after_seq

        def resume() -> Iterator[events_pb2.Event]:
            nonlocal last
            for event in self.events(last, follow=True):
                last = event.seq
                yield event

        return reconnecting(resume, on_retry)

    def events(
        self, after_seq: int = 0, *, follow: bool = False, timeout: float | None = None
    ) -> Iterator[events_pb2.Event]:
        """Events after ``after_seq`` in order; with ``follow``, keep waiting for new ones.

        Remember the last ``seq`` you handled and pass it back after a reconnect: nothing is
        missed or repeated. A cursor older than the agent's retention is ``OUT_OF_RANGE``.
        """
        if follow:
            request = events_pb2.WatchEventsRequest(after_seq=after_seq)
            for batch in self.stubs.events.WatchEventBatches(request, timeout=timeout):
                yield from batch.events
            return
        while True:
            page = self.stubs.events.ListEvents(
                events_pb2.ListEventsRequest(after_seq=after_seq, limit=1000), timeout=_TIMEOUT
            )
            yield from page.events
            if len(page.events) < 1000:
                return
            after_seq = page.next_after_seq

    def sending_domains(self) -> smtp_users_pb2.ListSendingDomainsResponse:
        """The caller's sending domains, each with the DKIM keys the agent signs with."""
        request = smtp_users_pb2.ListSendingDomainsRequest()
        return self.stubs.smtp_users.ListSendingDomains(request, timeout=_TIMEOUT)

    def add_sending_domain(self, domain: str) -> smtp_users_pb2.ListSendingDomainsResponse:
        """Make ``domain`` one of the caller's sending domains (idempotent); all of them."""
        request = smtp_users_pb2.SendingDomainRequest(domain=domain)
        return self.stubs.smtp_users.AddSendingDomain(request, timeout=_TIMEOUT)

    def generate_dkim_key(
        self, domain: str, selector: str = "", algorithm: str = ""
    ) -> sending_domains_pb2.GenerateDkimKeyResponse:
        """Make a DKIM key for one of the caller's sending domains on the agent (the private
        key stays there) and sign with it from now on; the TXT record to publish. Admin keys
        only; an empty selector is the agent's ("mf" and the year and month)."""
        request = sending_domains_pb2.GenerateDkimKeyRequest(
            domain=domain, selector=selector, algorithm=algorithm
        )
        return self.stubs.sending_domains.GenerateDkimKey(request, timeout=_TIMEOUT)

    def dns_records(self, domain: str) -> list[sending_domains_pb2.DnsRecord]:
        """The records to publish for a sending domain: DKIM keys, SPF and DMARC."""
        request = sending_domains_pb2.DomainRef(domain=domain)
        return list(self.stubs.sending_domains.GetDnsRecords(request, timeout=_TIMEOUT).records)

    def check_dns(self, domain: str) -> list[sending_domains_pb2.DnsVerdict]:
        """What DNS publishes for a sending domain now, judged record by record."""
        request = sending_domains_pb2.DomainRef(domain=domain)
        return list(self.stubs.sending_domains.CheckDns(request, timeout=_TIMEOUT).verdicts)

    def queued(
        self, selection: queue_pb2.QueueSelection | None = None
    ) -> Iterator[queue_pb2.QueuedMessage]:
        """Every waiting message of the selection (the caller's tenant by default), by id."""
        after_id = 0
        while True:
            request = queue_pb2.ListQueueRequest(selection=selection, after_id=after_id, limit=1000)
            page = self.stubs.queue.ListQueue(request, timeout=_TIMEOUT).messages
            yield from page
            if len(page) < 1000:
                return
            after_id = page[-1].id

    def queue_summary(
        self, selection: queue_pb2.QueueSelection | None = None
    ) -> queue_pb2.SummarizeQueueResponse:
        """Waiting mail of the selection by recipient domain and by route (most first), in
        all, and the suspensions in force."""
        request = queue_pb2.SummarizeQueueRequest(selection=selection)
        return self.stubs.queue.SummarizeQueue(request, timeout=_TIMEOUT)

    def retry_queued(self, selection: queue_pb2.QueueSelection) -> int:
        """Make the selection's deferred mail due now; how many messages that was."""
        request = queue_pb2.RetryQueuedRequest(selection=selection)
        return self.stubs.queue.RetryQueued(request, timeout=_TIMEOUT).retried

    def delete_queued(self, selection: queue_pb2.QueueSelection) -> int:
        """End the selection's queued and deferred mail unsent; how many messages that was."""
        request = queue_pb2.DeleteQueuedRequest(selection=selection)
        return self.stubs.queue.DeleteQueued(request, timeout=_TIMEOUT).deleted

    def bounce_queued(self, selection: queue_pb2.QueueSelection, reason: str) -> int:
        """End the selection's queued and deferred mail as bounced with ``reason``; how many."""
        request = queue_pb2.BounceQueuedRequest(selection=selection, reason=reason)
        return self.stubs.queue.BounceQueued(request, timeout=_TIMEOUT).bounced

    def suspend(self, request: queue_pb2.SuspendRequest) -> queue_pb2.Suspension:
        """Hold back a recipient domain's or a route's mail until resumed (or a time)."""
        return self.stubs.queue.Suspend(request, timeout=_TIMEOUT)

    def resume(self, request: queue_pb2.ResumeRequest) -> queue_pb2.Suspension:
        """Lift a suspension; its mail goes out again at once. The suspension lifted."""
        return self.stubs.queue.Resume(request, timeout=_TIMEOUT).resumed

    def suspensions(
        self, tenant_id: int = 0, *, all_tenants: bool = False
    ) -> list[queue_pb2.Suspension]:
        """The suspensions in force for the caller's tenant (another's, every tenant's: admin
        keys)."""
        request = queue_pb2.ListSuspensionsRequest(tenant_id=tenant_id, all_tenants=all_tenants)
        return list(self.stubs.queue.ListSuspensions(request, timeout=_TIMEOUT).suspensions)


def _recipient_batches(
    campaign_id: int, rows: Iterable[Mapping[str, str]], email_field: str, batch_size: int
) -> Iterator[campaigns_pb2.RecipientBatch]:
    names: list[str] | None = None
    batch = campaigns_pb2.RecipientBatch(campaign_id=campaign_id)
    for row in rows:
        if names is None:
            names = [k for k in row if k != email_field]
            batch.field_names.extend(names)
        batch.recipients.append(
            common_pb2.Recipient(
                email=row.get(email_field, ""), values=[row.get(n, "") for n in names]
            )
        )
        if len(batch.recipients) >= batch_size:
            yield batch
            batch = campaigns_pb2.RecipientBatch(campaign_id=campaign_id)
    if batch.recipients or names is None:
        yield batch
