"""Uploading a saved campaign to its agents, resumably.

Each part creates its agent campaign with the part's idempotency key (a retry gets the same
campaign back), then streams its recipients in chunks. After each chunk's summary, which the
agent sends only once the chunk is on disk, ``uploaded_through`` moves past it in the database.
A crash mid-chunk re-sends at most that chunk, and the agent rejects the rows it already has as
duplicates, so nobody is queued twice. Blocking: run it off the GUI thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Engine, bindparam, select, update

from mailfleet.agent.client import AgentStubs, Pairing
from mailfleet.desktop.agents import media_publish, registry
from mailfleet.desktop.agents.ab_results import ab_test_message
from mailfleet.desktop.db.models import (
    Campaign,
    CampaignPart,
    CampaignRecipient,
    CampaignState,
    Contact,
    PartState,
    RecipientStatus,
)
from mailfleet.desktop.services import campaigns, fields, templates
from mailfleet.desktop.services.ab_tests import AbPlan
from mailfleet.desktop.services.media_storage import Bucket
from mailfleet.desktop.services.send_windows import SendWindow
from mailfleet.v1 import campaigns_pb2, common_pb2

CHUNK = 100_000  # recipients per upload stream: the unit of resumption
BATCH = 5_000  # recipients per message on the stream
_DUPLICATE = common_pb2.REJECT_REASON_DUPLICATE


class Flag(Protocol):
    """A stop flag: a ``threading.Event`` or a multiprocessing one."""

    def is_set(self) -> bool:
        """True once stopping was asked for."""
        ...


class UploadCancelled(Exception):
    """The marketer stopped the upload; it resumes from the last confirmed chunk."""


class UploadIncomplete(registry.AgentError):
    """Some agents could not take their recipients; the others got theirs. Uploading again
    (by hand, or when those agents are back) sends the rest."""

    def __init__(self, agents: Sequence[str]) -> None:
        super().__init__(", ".join(agents))
        self.agents = tuple(agents)


@dataclass(frozen=True)
class Progress:
    """How far the upload is: recipients confirmed on agents out of all of them."""

    done: int
    total: int
    note: str = ""


def _request(
    campaign: Campaign, part: campaigns.Part, total_weight: int, html: str
) -> campaigns_pb2.CreateCampaignRequest:
    throttle = 0
    if campaign.throttle_per_minute:
        throttle = max(1, campaign.throttle_per_minute * part.weight // total_weight)
    request = campaigns_pb2.CreateCampaignRequest(
        name=campaign.name,
        sender=common_pb2.Sender(
            from_name=campaign.from_name,
            from_address=campaign.from_address,
            reply_to=campaign.reply_to,
        ),
        content=common_pb2.Content(
            subject=campaign.subject, html=html, text=campaign.text
        ),
        tags=campaigns.agent_tags(campaign),
        throttle_per_minute=throttle,
        idempotency_key=part.idempotency_key,
    )
    if campaign.start_at is not None:
        stamp = Timestamp()
        stamp.FromDatetime(campaign.start_at)
        request.start_at.CopyFrom(stamp)
    if (plan := AbPlan.from_json(campaign.ab_test)) is not None:
        request.ab_test.CopyFrom(ab_test_message(plan))
    if (window := SendWindow.from_json(campaign.send_window)) is not None:
        request.send_window.CopyFrom(
            campaigns_pb2.SendWindow(
                weekdays=window.weekdays,
                start_minute=window.start_minute,
                end_minute=window.end_minute,
                time_zone=window.time_zone,
            )
        )
    return request


Row = Sequence[Any]  # id, email, first name, last name, then one value per custom field


def _chunk(
    engine: Engine, part_id: int, after: int, specs: Sequence[fields.FieldSpec]
) -> list[Row]:
    # Custom values are picked out of the JSON by the database: decoding each contact's whole
    # JSON object in Python cost more than everything else in the upload.
    custom = [Contact.fields[spec.key].as_string() for spec in specs]
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(CampaignRecipient.id, CampaignRecipient.email, Contact.first_name,
                       Contact.last_name, *custom)
                .outerjoin(Contact, Contact.id == CampaignRecipient.contact_id)
                .where(CampaignRecipient.part_id == part_id, CampaignRecipient.id > after,
                       CampaignRecipient.status == RecipientStatus.PENDING.value)
                .order_by(CampaignRecipient.id)
                .limit(CHUNK)
            )
        )  # fmt: skip


def _batches(
    agent_campaign_id: int,
    names: list[str],
    specs: Sequence[fields.FieldSpec],
    rows: list[Row],
    cancel: Flag,
) -> Iterator[campaigns_pb2.RecipientBatch]:
    convert = [templates.converter(spec.type) for spec in specs]
    for start in range(0, len(rows), BATCH):
        if cancel.is_set():
            return  # the stream ends early; the summary then covers fewer rows
        batch = campaigns_pb2.RecipientBatch(campaign_id=agent_campaign_id)
        if start == 0:
            batch.field_names.extend(names)
        add = batch.recipients.add
        for row in rows[start : start + BATCH]:
            first, last = row[2] or "", row[3] or ""
            values = [first, last]
            if convert:
                values.extend(c(v) for c, v in zip(convert, row[4:], strict=True))
            add(email=row[1], name=f"{first} {last}".strip(), values=values)
        yield batch


def upload_campaign(
    engine: Engine,
    workspace_id: int,
    campaign_id: int,
    progress: Callable[[Progress], None] = lambda _p: None,
    cancel: Flag | None = None,
    pairings: Mapping[int, Pairing] | None = None,
    media_bucket: Bucket | None = None,
) -> None:
    """Upload every part that is not on its agent yet, start them, mark the campaign sending.

    A part whose agent cannot be reached does not stop the others; ``UploadIncomplete`` names
    those agents at the end and the campaign stays *uploading*: it is sending only once every
    agent holds its recipients. ``pairings`` (agent id → pairing with its key) replaces reading
    keys from the keyring, for an upload process that has no access to the app's keyring
    session; ``media_bucket`` is then the workspace's media bucket with its keys (None: the
    images go on the agents), read here otherwise.
    """
    stop: Flag = cancel or threading.Event()
    bucket = (
        media_bucket if pairings is not None else media_publish.destination(engine, workspace_id)
    )
    with engine.connect() as conn:
        campaign = campaigns.get(conn, workspace_id, campaign_id)
        all_parts = campaigns.parts(conn, campaign_id)
        specs = fields.list_fields(conn, workspace_id)
    active = [p for p in all_parts if p.state in (PartState.PENDING, PartState.UPLOADING)]
    if campaign.state in (CampaignState.CANCELLING, CampaignState.CANCELLED):
        return
    if active and campaign.state == CampaignState.SENDING:
        with engine.begin() as conn:  # not all on its agents: it is not sending yet
            campaigns.set_state(conn, campaign_id, CampaignState.UPLOADING)
    total_weight = sum(p.weight for p in all_parts if p.state is not PartState.MOVED) or 1
    done = 0
    total = campaign.recipients

    def advanced(count: int, note: str) -> None:
        nonlocal done
        done += count
        progress(Progress(done, total, note))

    missed: list[str] = []
    for part in active:
        if stop.is_set():
            raise UploadCancelled
        with engine.connect() as conn:
            record = registry.get_agent(conn, workspace_id, part.agent_id)
        try:
            pairing = pairings[record.id] if pairings is not None else record.pairing()
            _upload_part(
                engine, campaign, part, total_weight, specs, stop, advanced, record.name, pairing,
                bucket,
            )  # fmt: skip
        except (registry.AgentError, registry.FingerprintMismatch):
            missed.append(record.name)
    if missed:
        raise UploadIncomplete(missed)
    with engine.begin() as conn:
        if campaigns.get(conn, workspace_id, campaign_id).state == CampaignState.UPLOADING:
            campaigns.set_state(conn, campaign_id, CampaignState.SENDING)
            campaigns.settle(conn, campaign_id)  # its parts may have finished already
    progress(Progress(total, total, "sending"))


def _upload_part(
    engine: Engine,
    campaign: Campaign,
    part: campaigns.Part,
    total_weight: int,
    specs: list[fields.FieldSpec],
    stop: Flag,
    advanced: Callable[[int, str], None],
    agent_name: str,
    pairing: Pairing,
    bucket: Bucket | None,
) -> None:
    names = ["first_name", "last_name", *(spec.key for spec in specs)]
    try:
        with registry.connect(pairing) as agent:
            html = media_publish.publish(
                engine, campaign.workspace_id, agent, campaign.html, bucket
            )
            remote = agent.campaigns.CreateCampaign(
                _request(campaign, part, total_weight, html), timeout=registry.CALL_TIMEOUT
            )
            with engine.begin() as conn:
                conn.execute(
                    update(CampaignPart)
                    .where(CampaignPart.id == part.id)
                    .values(agent_campaign_id=remote.id)
                )
                # A cancel recorded meanwhile is kept: the part is not uploading any more.
                conn.execute(
                    update(CampaignPart)
                    .where(
                        CampaignPart.id == part.id,
                        CampaignPart.state == PartState.PENDING.value,
                    )
                    .values(state=PartState.UPLOADING.value)
                )
            started = PartState.STARTED
            if remote.state == campaigns_pb2.CAMPAIGN_STATE_DRAFT:
                _stream(engine, agent, remote.id, part, names, specs, stop, agent_name, advanced)
                # Cancelled while this part was uploading: the agent must not start it.
                start, started = (
                    ("CancelCampaign", PartState.CANCELLED)
                    if _cancelled(engine, campaign.id)
                    else ("StartCampaign", PartState.STARTED)
                )
                getattr(agent.campaigns, start)(
                    campaigns_pb2.CampaignRef(campaign_id=remote.id), timeout=registry.CALL_TIMEOUT
                )
            # A part cancelled since it was read stays cancelled; a cancel recorded while it
            # started is delivered like any other waiting command.
            from_states = [PartState.UPLOADING.value]
            if started is PartState.CANCELLED:
                from_states.append(PartState.CANCELLING.value)
            with engine.begin() as conn:
                conn.execute(
                    update(CampaignPart)
                    .where(CampaignPart.id == part.id, CampaignPart.state.in_(from_states))
                    .values(state=started.value)
                )
                if started is PartState.CANCELLED:
                    campaigns.cancel_unsent(conn, [part.id])
                campaigns.settle(conn, campaign.id)
    except grpc.RpcError as exc:
        raise registry.AgentError(f"{agent_name}: {registry.describe_rpc_error(exc)}") from exc


def _cancelled(engine: Engine, campaign_id: int) -> bool:
    with engine.connect() as conn:
        state = conn.scalar(select(Campaign.state).where(Campaign.id == campaign_id))
    return state in (CampaignState.CANCELLING.value, CampaignState.CANCELLED.value)


def _stream(
    engine: Engine,
    agent: AgentStubs,
    remote_id: int,
    part: campaigns.Part,
    names: list[str],
    specs: list[fields.FieldSpec],
    stop: Flag,
    agent_name: str,
    advanced: Callable[[int, str], None],
) -> None:
    after = part.uploaded_through
    while True:
        if stop.is_set():
            raise UploadCancelled
        rows = _chunk(engine, part.id, after, specs)
        if not rows:
            return
        summary = agent.campaigns.UploadRecipients(_batches(remote_id, names, specs, rows, stop))
        if stop.is_set() and summary.received < len(rows):
            raise UploadCancelled
        rejected = [
            {"p": part.id, "e": r.email} for r in summary.rejections if r.reason != _DUPLICATE
        ]
        after = rows[-1][0]
        with engine.begin() as conn:
            if rejected:
                conn.execute(
                    update(CampaignRecipient)
                    .where(
                        CampaignRecipient.part_id == bindparam("p"),
                        CampaignRecipient.email == bindparam("e"),
                    )
                    .values(status=RecipientStatus.REJECTED.value),
                    rejected,
                )
            conn.execute(
                update(CampaignPart)
                .where(CampaignPart.id == part.id)
                .values(uploaded_through=after)
            )
        advanced(len(rows), f"uploaded to {agent_name}")
