"""Campaigns on the desktop: the audience, the saved campaign and its split across agents.

A campaign is saved, with every recipient assigned to an agent's part, in one transaction
before anything is uploaded; the upload (``services.upload``) then only moves what is saved, so
a crash mid-upload resumes from the saved state instead of starting a second campaign.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from mailfleet.desktop.db.models import (
    Agent,
    Campaign,
    CampaignPart,
    CampaignRecipient,
    CampaignState,
    Contact,
    ContactStatus,
    ListMembership,
    MailingList,
    PartState,
    RecipientStatus,
    Segment,
)
from mailfleet.desktop.db.types import utcnow
from mailfleet.desktop.services import segments
from mailfleet.desktop.services.ab_tests import AbPlan
from mailfleet.desktop.services.emails import check_address
from mailfleet.desktop.services.languages import LANGUAGE_TAG, LANGUAGES
from mailfleet.desktop.services.send_windows import SendWindow
from mailfleet.desktop.services.suppression import not_suppressed

# The tag of a campaign sent for a list: the agents' preference center offers to leave it, and
# leaving it is an unsubscribe of that scope (the list ids are the desktop's, as in the forms).
LIST_TAG = "list:"
# An agent takes at most 50 tags on a campaign: its own id and language use two.
MAX_LISTS = 48


class CampaignError(ValueError):
    """The campaign cannot be saved or changed as asked; the message says why."""


@dataclass(frozen=True)
class Audience:
    """Contacts on any of these lists or in any of these segments (mailable ones only)."""

    lists: tuple[int, ...] = ()
    segments: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The form kept in ``Campaign.audience``."""
        return {"lists": list(self.lists), "segments": list(self.segments)}


@dataclass(frozen=True)
class Draft:
    """Everything the wizard collects."""

    name: str
    audience: Audience
    subject: str
    from_address: str
    html: str = ""
    text: str = ""
    from_name: str = ""
    reply_to: str = ""
    throttle_per_minute: int = 0
    start_at: datetime | None = None
    time_zone: str = "UTC"
    # The recipients' public pages' language (``LANGUAGES``); empty: each one's browser's.
    language: str = ""
    # (agent id, weight): the share of recipients each agent sends.
    agents: tuple[tuple[int, int], ...] = field(default_factory=tuple)
    ab_test: AbPlan | None = None  # None: no A/B test
    send_window: SendWindow | None = None  # None: sends at any hour

    def kept(self) -> dict[str, Any]:
        """The columns of ``Campaign`` the draft fills (a draft and a sent campaign alike)."""
        return {
            "name": self.name.strip(),
            "audience": self.audience.to_json(),
            "subject": self.subject,
            "html": self.html,
            "text": self.text,
            "from_name": self.from_name,
            "from_address": self.from_address,
            "reply_to": self.reply_to,
            "throttle_per_minute": self.throttle_per_minute,
            "start_at": self.start_at,
            "time_zone": self.time_zone,
            "language": self.language,
            "ab_test": None if self.ab_test is None else self.ab_test.to_json(),
            "send_window": None if self.send_window is None else self.send_window.to_json(),
        }


def audience_condition(
    conn: Connection, workspace_id: int, audience: Audience
) -> ColumnElement[bool]:
    """Mailable contacts (subscribed, not suppressed) on the lists or in the segments."""
    options: list[ColumnElement[bool]] = []
    if audience.lists:
        owned = set(
            conn.scalars(
                select(MailingList.id).where(
                    MailingList.workspace_id == workspace_id, MailingList.id.in_(audience.lists)
                )
            )
        )
        if owned != set(audience.lists):
            raise CampaignError("a chosen list is not in this workspace")
        options.append(
            exists().where(
                ListMembership.contact_id == Contact.id, ListMembership.list_id.in_(audience.lists)
            )
        )
    if audience.segments:
        rows = conn.execute(
            select(Segment.id, Segment.rules).where(
                Segment.workspace_id == workspace_id, Segment.id.in_(audience.segments)
            )
        ).all()
        if len(rows) != len(set(audience.segments)):
            raise CampaignError("a chosen segment is not in this workspace")
        kinds = segments.field_kinds(conn, workspace_id)
        options.extend(segments.compile_rules(rules, kinds) for _, rules in rows)
    if not options:
        raise CampaignError("choose at least one list or segment")
    return and_(
        Contact.workspace_id == workspace_id,
        Contact.status == ContactStatus.SUBSCRIBED.value,
        not_suppressed(workspace_id),
        or_(*options),
    )


def count_audience(conn: Connection, workspace_id: int, audience: Audience) -> int:
    """How many contacts the campaign would go to (after suppression)."""
    condition = audience_condition(conn, workspace_id, audience)
    return int(conn.scalar(select(func.count()).select_from(Contact).where(condition)) or 0)


def agent_tags(campaign: Campaign) -> list[str]:
    """The tags its agents' campaigns get: the desktop's id for it, ``list:<id>`` for each list
    of its audience and ``lang:<code>`` for its language.

    Tags are the campaign's, not a recipient's: someone on one of two lists is offered both on
    the preference page, and leaving either holds back the whole campaign from them.
    """
    tags = [f"desktop-campaign-{campaign.id}"]
    tags.extend(f"{LIST_TAG}{list_id}" for list_id in (campaign.audience or {}).get("lists", []))
    if campaign.language:
        tags.append(LANGUAGE_TAG + campaign.language)
    return tags


def _domain(conn: Connection) -> ColumnElement[str]:
    if conn.dialect.name == "postgresql":
        return func.substring(Contact.email, "@([^@]*)$")
    return func.substr(Contact.email, func.instr(Contact.email, "@") + 1)


def _check(draft: Draft) -> None:
    if not draft.name.strip():
        raise CampaignError("the campaign needs a name")
    if not draft.subject.strip():
        raise CampaignError("the subject is empty")
    if not (draft.html.strip() or draft.text.strip()):
        raise CampaignError("the message needs an HTML or a text body")
    for label, address in (("from", draft.from_address), ("reply-to", draft.reply_to)):
        if (address or label == "from") and check_address(address).email is None:
            raise CampaignError(f"the {label} address {address!r} is not a valid address")
    if not draft.agents:
        raise CampaignError("choose at least one agent to send through")
    if any(weight < 1 for _, weight in draft.agents):
        raise CampaignError("agent weights are whole numbers from 1")
    if draft.throttle_per_minute < 0:
        raise CampaignError("the throttle cannot be negative")
    if len(draft.audience.lists) > MAX_LISTS:
        raise CampaignError(f"a campaign can go to at most {MAX_LISTS} lists")
    if draft.language and draft.language not in LANGUAGES:
        raise CampaignError("choose one of the languages offered for the campaign's pages")
    for part in (draft.ab_test, draft.send_window):
        if part is not None and (problem := part.problem()) is not None:
            raise CampaignError(problem)


def weighted_parts(
    conn: Connection, part_ids: Sequence[tuple[int, int]], slot: ColumnElement[int]
) -> ColumnElement[int]:
    """A CASE choosing a part id from ``slot`` (0…total weight-1) in proportion to weights."""
    whens = []
    upper = 0
    for part_id, weight in part_ids[:-1]:
        upper += weight
        whens.append((slot < upper, part_id))
    last = literal(part_ids[-1][0])
    return case(*whens, else_=last) if whens else last


def create(engine: Engine, workspace_id: int, draft: Draft, replaces: int | None = None) -> int:
    """Save the campaign with its parts and every recipient assigned to a part; return its id.

    The state is ``uploading``: the upload can start (or resume after a crash) from here. A
    saved draft it was made from (``replaces``) goes in the same transaction, so one draft is
    sent once.
    """
    _check(draft)
    prefix = uuid.uuid4().hex
    with engine.begin() as conn:
        if replaces is not None:
            _remove_draft(conn, workspace_id, replaces)
        condition = audience_condition(conn, workspace_id, draft.audience)
        campaign_id = conn.scalar(
            insert(Campaign)
            .values(
                **draft.kept(),
                workspace_id=workspace_id,
                state=CampaignState.UPLOADING.value,
                key_prefix=prefix,
            )
            .returning(Campaign.id)
        )
        assert campaign_id is not None
        parts = add_parts(conn, campaign_id, prefix, draft.agents, first_number=1)
        total = sum(w for _, w in parts)
        slot = (func.row_number().over(order_by=Contact.id) - 1) % total
        source = select(
            literal(campaign_id),
            weighted_parts(conn, parts, slot),
            Contact.id,
            Contact.email,
            _domain(conn),
            literal(RecipientStatus.PENDING.value),
        ).where(condition)
        conn.execute(
            insert(CampaignRecipient).from_select(
                ["campaign_id", "part_id", "contact_id", "email", "domain", "status"], source
            )
        )
        recipients = conn.scalar(
            select(func.count())
            .select_from(CampaignRecipient)
            .where(CampaignRecipient.campaign_id == campaign_id)
        )
        if not recipients:
            raise CampaignError("nobody in this audience can be mailed")
        conn.execute(
            update(Campaign).where(Campaign.id == campaign_id).values(recipients=recipients)
        )
        return int(campaign_id)


COPY_SUFFIX = " (copy)"


def duplicate(conn: Connection, workspace_id: int, campaign_id: int) -> int:
    """A new draft with the campaign's content, audience, sender and settings, named
    "… (copy)"; none of its recipients or results. Returns the draft's id.

    Lists and segments deleted since are left out of the audience, and a start time already
    past becomes "at once".
    """
    source = get(conn, workspace_id, campaign_id)
    audience = source.audience or {}
    lists = conn.scalars(
        select(MailingList.id).where(
            MailingList.workspace_id == workspace_id,
            MailingList.id.in_(audience.get("lists", [])),
        )
    )
    kept = conn.scalars(
        select(Segment.id).where(
            Segment.workspace_id == workspace_id, Segment.id.in_(audience.get("segments", []))
        )
    )
    start = source.start_at
    new_id = conn.scalar(
        insert(Campaign)
        .values(
            workspace_id=workspace_id,
            name=source.name[: 200 - len(COPY_SUFFIX)] + COPY_SUFFIX,
            state=CampaignState.DRAFT.value,
            audience=Audience(tuple(sorted(lists)), tuple(sorted(kept))).to_json(),
            subject=source.subject,
            html=source.html,
            text=source.text,
            from_name=source.from_name,
            from_address=source.from_address,
            reply_to=source.reply_to,
            throttle_per_minute=source.throttle_per_minute,
            start_at=start if start is not None and start > utcnow() else None,
            time_zone=source.time_zone,
            language=source.language,
            ab_test=source.ab_test,
            send_window=source.send_window,
            key_prefix=uuid.uuid4().hex,
            recipients=0,
        )
        .returning(Campaign.id)
    )
    assert new_id is not None
    return int(new_id)


def draft_of(conn: Connection, workspace_id: int, campaign_id: int) -> Draft:
    """A saved draft as the wizard edits it (agents are chosen in the wizard)."""
    row = get(conn, workspace_id, campaign_id)
    if row.state != CampaignState.DRAFT.value:
        raise CampaignError("only a draft can be opened for editing")
    audience = row.audience or {}
    return Draft(
        name=row.name,
        audience=Audience(tuple(audience.get("lists", [])), tuple(audience.get("segments", []))),
        subject=row.subject,
        from_address=row.from_address,
        html=row.html,
        text=row.text,
        from_name=row.from_name,
        reply_to=row.reply_to,
        throttle_per_minute=row.throttle_per_minute,
        start_at=row.start_at,
        time_zone=row.time_zone,
        language=row.language,
        ab_test=AbPlan.from_json(row.ab_test),
        send_window=SendWindow.from_json(row.send_window),
    )


def save_draft(conn: Connection, workspace_id: int, campaign_id: int, draft: Draft) -> None:
    """Keep what the wizard shows in a saved draft (no check: a draft may be unfinished)."""
    saved = conn.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.workspace_id == workspace_id,
            Campaign.state == CampaignState.DRAFT.value,
        )
        .values({**draft.kept(), "name": draft.name.strip() or "Untitled draft"})
    )
    if saved.rowcount != 1:
        raise CampaignError("this draft was sent or deleted meanwhile")


def agents_of(conn: Connection, workspace_id: int, campaign_id: int) -> tuple[tuple[int, int], ...]:
    """(agent id, weight) of the agents the campaign was split across, as the wizard offers
    them again for a copy; a part whose recipients were moved away does not count."""
    get(conn, workspace_id, campaign_id)
    found: dict[int, int] = {}
    for part in parts(conn, campaign_id):
        if part.state is not PartState.MOVED:
            found.setdefault(part.agent_id, part.weight)
    return tuple(found.items())


def _remove_draft(conn: Connection, workspace_id: int, campaign_id: int) -> None:
    gone = conn.execute(
        delete(Campaign).where(
            Campaign.id == campaign_id,
            Campaign.workspace_id == workspace_id,
            Campaign.state == CampaignState.DRAFT.value,
        )
    )
    if gone.rowcount != 1:
        raise CampaignError("this draft was sent or deleted meanwhile")


def delete_draft(conn: Connection, workspace_id: int, campaign_id: int) -> None:
    """Delete a draft (a campaign that was never sent)."""
    _remove_draft(conn, workspace_id, campaign_id)


def add_parts(
    conn: Connection,
    campaign_id: int,
    prefix: str,
    agents: Sequence[tuple[int, int]],
    first_number: int,
) -> list[tuple[int, int]]:
    """Insert one part per agent; returns (part id, weight) pairs."""
    parts = []
    for number, (agent_id, weight) in enumerate(agents, start=first_number):
        part_id = conn.scalar(
            insert(CampaignPart)
            .values(
                campaign_id=campaign_id,
                agent_id=agent_id,
                weight=weight,
                idempotency_key=f"mailfleet-{prefix}-{number}",
                state=PartState.PENDING.value,
                uploaded_through=0,
            )
            .returning(CampaignPart.id)
        )
        assert part_id is not None
        parts.append((int(part_id), weight))
    return parts


# A part's command not acknowledged by its agent yet → the command.
COMMAND_OF = {
    PartState.CANCELLING: "cancel",
    PartState.PAUSING: "pause",
    PartState.RESUMING: "resume",
}
# Parts whose campaign is on their agent and not finished there.
ON_AGENT = (PartState.STARTED, PartState.PAUSED, *COMMAND_OF)


@dataclass(frozen=True)
class CampaignRow:
    """A campaign in the campaigns list."""

    id: int
    name: str
    state: CampaignState
    recipients: int
    created_at: datetime
    start_at: datetime | None
    # A cancel, pause or resume some agents have not acknowledged yet, and those agents.
    command: str | None = None
    waiting_for: tuple[str, ...] = ()
    ab_test: bool = False  # it tests variants (the A/B result view has something to show)


def list_campaigns(conn: Connection, workspace_id: int) -> list[CampaignRow]:
    """The workspace's campaigns, newest first."""
    rows = conn.execute(
        select(
            Campaign.id,
            Campaign.name,
            Campaign.state,
            Campaign.recipients,
            Campaign.created_at,
            Campaign.start_at,
            Campaign.ab_test.is_not(None),
        )
        .where(Campaign.workspace_id == workspace_id)
        .order_by(Campaign.id.desc())
    )
    waiting = _waiting_commands(conn, workspace_id)
    found = []
    for i, n, s, r, c, a, ab in rows:
        command, waiting_for = waiting.get(i, (None, ()))
        found.append(CampaignRow(i, n, CampaignState(s), r, c, a, command, waiting_for, bool(ab)))
    return found


def _waiting_commands(
    conn: Connection, workspace_id: int
) -> dict[int, tuple[str, tuple[str, ...]]]:
    """Campaign id → (command, agent names) for parts whose agent has not taken a command."""
    rows = conn.execute(
        select(CampaignPart.campaign_id, CampaignPart.state, Agent.name)
        .join(Agent, Agent.id == CampaignPart.agent_id)
        .where(
            Agent.workspace_id == workspace_id,
            CampaignPart.state.in_([s.value for s in COMMAND_OF]),
        )
        .order_by(CampaignPart.campaign_id, Agent.name)
    )
    found: dict[int, tuple[str, tuple[str, ...]]] = {}
    for campaign_id, state, name in rows:
        command, names = found.get(campaign_id, (COMMAND_OF[PartState(state)], ()))
        if name not in names:
            found[campaign_id] = (command, (*names, name))
    return found


def cancel_unsent(conn: Connection, part_ids: Sequence[int] | Select[Any]) -> None:
    """Recipients of cancelled parts with no outcome yet will never get one: cancelled."""
    conn.execute(
        update(CampaignRecipient)
        .where(
            CampaignRecipient.part_id.in_(part_ids),
            CampaignRecipient.status.in_(
                (RecipientStatus.PENDING.value, RecipientStatus.DEFERRED.value)
            ),
        )
        .values(status=RecipientStatus.CANCELLED.value)
    )


def command_of(conn: Connection, campaign_id: int) -> str | None:
    """The cancel, pause or resume some agent of the campaign has not acknowledged yet."""
    state = conn.scalar(
        select(CampaignPart.state)
        .where(
            CampaignPart.campaign_id == campaign_id,
            CampaignPart.state.in_([s.value for s in COMMAND_OF]),
        )
        .limit(1)
    )
    return None if state is None else COMMAND_OF[PartState(state)]


_COMMAND_WORD = {"cancel": "Cancelling", "pause": "Pausing", "resume": "Resuming"}


def state_text(row: CampaignRow) -> str:
    """The state as the marketer reads it: "sending", or "Cancelling — waiting for Oslo"."""
    if row.command is not None and row.waiting_for:
        return f"{_COMMAND_WORD[row.command]} — waiting for {names_text(row.waiting_for)}"
    return row.state.value


def names_text(names: Sequence[str]) -> str:
    """``Paris``, ``Paris and Oslo``, ``Paris, Oslo and Rome``."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def get(conn: Connection, workspace_id: int, campaign_id: int) -> Campaign:
    """The campaign's row (detached values); ``LookupError`` if not in the workspace."""
    row = conn.execute(
        select(Campaign.__table__).where(
            Campaign.id == campaign_id, Campaign.workspace_id == workspace_id
        )
    ).first()
    if row is None:
        raise LookupError(f"no campaign {campaign_id} in this workspace")
    return Campaign(**row._mapping)


@dataclass(frozen=True)
class Part:
    """One agent's share of a campaign."""

    id: int
    agent_id: int
    weight: int
    idempotency_key: str
    agent_campaign_id: int | None
    state: PartState
    uploaded_through: int


def parts(conn: Connection, campaign_id: int) -> list[Part]:
    """The campaign's parts in creation order."""
    rows = conn.execute(
        select(
            CampaignPart.id,
            CampaignPart.agent_id,
            CampaignPart.weight,
            CampaignPart.idempotency_key,
            CampaignPart.agent_campaign_id,
            CampaignPart.state,
            CampaignPart.uploaded_through,
        )
        .where(CampaignPart.campaign_id == campaign_id)
        .order_by(CampaignPart.id)
    )
    return [Part(i, a, w, k, c, PartState(s), u) for i, a, w, k, c, s, u in rows]


def set_state(conn: Connection, campaign_id: int, state: CampaignState) -> None:
    """Record the campaign's state."""
    conn.execute(update(Campaign).where(Campaign.id == campaign_id).values(state=state.value))


def unfinished_uploads(conn: Connection, workspace_id: int) -> list[int]:
    """Campaigns whose recipients are not all on their agents yet: the upload was interrupted
    (the app closed or crashed, an agent could not be reached), so it has to run again.

    A campaign marked *sending* with a part still waiting is included too: older versions
    could mark a campaign sending that no agent held.
    """
    waiting = exists().where(
        CampaignPart.campaign_id == Campaign.id,
        CampaignPart.state.in_((PartState.PENDING.value, PartState.UPLOADING.value)),
    )
    return list(
        conn.scalars(
            select(Campaign.id)
            .where(
                Campaign.workspace_id == workspace_id,
                or_(
                    Campaign.state == CampaignState.UPLOADING.value,
                    and_(Campaign.state == CampaignState.SENDING.value, waiting),
                ),
            )
            .order_by(Campaign.id)
        )
    )


# What the marketer may do to a campaign in each state. Retrying is only offered while its
# recipients (or a command) are not all on their agents; a finished campaign takes no command.
_ACTIONS: dict[CampaignState, frozenset[str]] = {
    CampaignState.UPLOADING: frozenset({"retry", "cancel"}),
    CampaignState.SENDING: frozenset({"pause", "cancel"}),
    CampaignState.PAUSED: frozenset({"resume", "cancel"}),
    CampaignState.CANCELLING: frozenset({"retry"}),
}
# While a pause (resume) waits for an agent, the marketer may retry it or change their mind.
_WHILE_WAITING = {
    "pause": frozenset({"retry", "resume", "cancel"}),
    "resume": frozenset({"retry", "pause", "cancel"}),
}


def allowed_actions(state: CampaignState, command: str | None = None) -> frozenset[str]:
    """The commands (``pause``, ``resume``, ``cancel``, ``retry``) that make sense in ``state``
    while ``command`` (a pause or resume some agent has not taken yet) is waiting."""
    if command in _WHILE_WAITING and state in (CampaignState.SENDING, CampaignState.PAUSED):
        return _WHILE_WAITING[command]
    return _ACTIONS.get(state, frozenset())


# Parts still to be uploaded or sending: the campaign is not finished while any is left.
_UNFINISHED = (PartState.PENDING, PartState.UPLOADING, *ON_AGENT)


def settle(conn: Connection, campaign_id: int) -> None:
    """Move the campaign to the state its parts acknowledged: *cancelled* once every part took
    its cancel, *paused* once every sending part took the pause, *sending* again once every
    paused part took the resume, *completed* once no part is left sending."""
    campaign_state = conn.scalar(select(Campaign.state).where(Campaign.id == campaign_id))
    if campaign_state is None:
        return
    current = CampaignState(campaign_state)
    states = {
        PartState(s)
        for s in conn.scalars(
            select(CampaignPart.state).where(
                CampaignPart.campaign_id == campaign_id,
                CampaignPart.state != PartState.MOVED.value,
            )
        )
    }
    target = current
    if current is CampaignState.CANCELLING:
        if not states & {PartState.PENDING, PartState.UPLOADING, *ON_AGENT}:
            target = CampaignState.CANCELLED
    elif current in (CampaignState.SENDING, CampaignState.PAUSED):
        if not states & set(_UNFINISHED):
            target = CampaignState.COMPLETED
        elif current is CampaignState.SENDING and states & set(_UNFINISHED) == {PartState.PAUSED}:
            target = CampaignState.PAUSED
        elif current is CampaignState.PAUSED and not states & {PartState.PAUSED, PartState.PAUSING}:
            target = CampaignState.SENDING
    if target is not current:
        set_state(conn, campaign_id, target)
