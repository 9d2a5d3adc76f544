"""One contact's activity, newest first, without Qt: when it was added and how, its signups and
confirmations (the consent records), the confirmation mails asked, each campaign it was sent
and what became of it, its opens and clicks, and its unsubscribe, bounce or complaint.

A campaign's per-recipient outcome has no time of its own: it is dated by the campaign's start
(or its creation, for one sent at once). The screen puts each entry in words (``kind`` names it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from mailfleet.desktop.db.models import (
    Campaign,
    CampaignRecipient,
    ConfirmationRequest,
    ConsentRecord,
    Contact,
    EngagementEvent,
    RecipientStatus,
    SignupForm,
    Suppression,
    SuppressionReason,
)

# Each kind an entry can be (the screen has a sentence for each).
KINDS = ("added", "signed up", "confirmed", "asked to confirm", "sent", "delivered", "bounced",
         "failed", "opened", "clicked", "unsubscribed", "complained", "suppressed")  # fmt: skip
# A suppression that is the person's own doing has a kind of its own; any other (a bounce, an
# entry made by hand, an erasure) is "suppressed", its reason in ``about``.
_OUTCOME = {
    RecipientStatus.DELIVERED.value: "delivered",
    RecipientStatus.CAPTURED.value: "delivered",
    RecipientStatus.BOUNCED.value: "bounced",
    RecipientStatus.FAILED.value: "failed",
}
_LEFT = {
    SuppressionReason.UNSUBSCRIBED.value: "unsubscribed",
    SuppressionReason.COMPLAINED.value: "complained",
}


@dataclass(frozen=True)
class Activity:
    """One thing that happened: ``kind`` (of ``KINDS``), when, and what it was about: a
    campaign's or form's name, an import's file, why a message bounced."""

    when: datetime | None
    kind: str
    about: str = ""
    detail: str = ""


def timeline(conn: Connection, workspace_id: int, contact_id: int) -> list[Activity]:
    """The contact's activity, newest first (entries without a time last)."""
    contact = conn.execute(
        select(Contact.created_at, Contact.consent_source, Contact.email_key).where(
            Contact.id == contact_id, Contact.workspace_id == workspace_id
        )
    ).one_or_none()
    if contact is None:
        return []
    found = [Activity(contact.created_at, "added", contact.consent_source or "")]
    for form, signed, confirmed in conn.execute(
        select(SignupForm.name, ConsentRecord.signed_up_at, ConsentRecord.confirmed_at)
        .outerjoin(SignupForm, SignupForm.form_id == ConsentRecord.form_id)
        .where(ConsentRecord.workspace_id == workspace_id, ConsentRecord.contact_id == contact_id)
    ):
        found.append(Activity(signed, "signed up", form or ""))
        if confirmed is not None:
            found.append(Activity(confirmed, "confirmed", form or ""))
    for form, sent in conn.execute(
        select(SignupForm.name, ConfirmationRequest.sent_at)
        .join(SignupForm, SignupForm.id == ConfirmationRequest.form_pk)
        .where(ConfirmationRequest.contact_id == contact_id,
               ConfirmationRequest.sent_at.is_not(None))
    ):  # fmt: skip
        found.append(Activity(sent, "asked to confirm", form))
    r = CampaignRecipient
    for name, start, created, status, reason in conn.execute(
        select(Campaign.name, Campaign.start_at, Campaign.created_at, r.status, r.reason)
        .join(Campaign, Campaign.id == r.campaign_id)
        .where(Campaign.workspace_id == workspace_id, r.contact_id == contact_id,
               r.status != RecipientStatus.MOVED.value)
    ):  # fmt: skip
        when = start or created
        found.append(Activity(when, "sent", name))
        if status in _OUTCOME:
            found.append(Activity(when, _OUTCOME[status], name, reason or ""))
    for name, kind, when in conn.execute(
        select(Campaign.name, EngagementEvent.kind, EngagementEvent.occurred_at)
        .outerjoin(Campaign, Campaign.id == EngagementEvent.campaign_id)
        .where(EngagementEvent.workspace_id == workspace_id,
               EngagementEvent.contact_id == contact_id)
    ):  # fmt: skip
        found.append(Activity(when, kind, name or ""))
    if contact.email_key:
        for reason, when in conn.execute(
            select(Suppression.reason, Suppression.created_at).where(
                Suppression.workspace_id == workspace_id,
                Suppression.email_key == contact.email_key,
            )
        ):
            found.append(Activity(when, _LEFT.get(reason, "suppressed"), reason))
    dated = sorted((a for a in found if a.when is not None), key=_when, reverse=True)
    return dated + [a for a in found if a.when is None]


def _when(activity: Activity) -> datetime:
    assert activity.when is not None
    return activity.when
