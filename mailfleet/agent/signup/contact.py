"""Where an address stands with a tenant on this agent, as the Audience API reports it: read from
its signups, the fields the API set on it and its suppression entries (the agent keeps no
contacts of its own; the desktop's are elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from mailfleet.agent.signup.record import LIST_TAG
from mailfleet.agent.store.signups import AddressHistory, SignupState
from mailfleet.agent.store.suppression import Reason


class ContactStatus(IntEnum):
    """The numbers of ``mailfleet.v1.ContactStatus``."""

    UNKNOWN = 1  # nothing about the address on this agent
    PENDING = 2  # signed up, not confirmed yet
    CONFIRMED = 3  # subscribed to at least one list
    UNSUBSCRIBED = 4  # left everything, or every list it had joined
    SUPPRESSED = 5  # a bounce, complaint or manual entry: no mail at all


@dataclass(frozen=True)
class ContactView:
    """One address's standing."""

    email: str
    status: ContactStatus
    lists: list[str]  # subscribed to
    pending_lists: list[str]  # awaiting confirmation
    left_lists: list[str]  # unsubscribed from one by one
    fields: dict[str, str]


def view(email: str, history: AddressHistory, now: float) -> ContactView:
    """The standing of ``email`` at ``now`` from what the store holds about it."""
    live = [
        s
        for s in history.signups
        if s.state is SignupState.CONFIRMED
        or (s.state is SignupState.PENDING and (s.expires_at or 0) >= now)
    ]
    # Confirming lifts the address's unsubscribes of the signup's lists, so the entries
    # present now are later than every confirmation they name.
    left = sorted(
        e.scope.removeprefix(LIST_TAG)
        for e in history.entries
        if e.reason is Reason.UNSUBSCRIBE and e.scope.startswith(LIST_TAG)
    )
    everything = any(e.reason is Reason.UNSUBSCRIBE and not e.scope for e in history.entries)
    suppressed = any(e.reason is not Reason.UNSUBSCRIBE and not e.scope for e in history.entries)
    joined = {i for s in live if s.state is SignupState.CONFIRMED for i in s.lists}
    lists = [] if everything else sorted(joined - set(left))
    pending = sorted(
        {i for s in live if s.state is SignupState.PENDING for i in s.lists} - set(lists)
    )
    if suppressed:
        status = ContactStatus.SUPPRESSED
    elif everything:
        status = ContactStatus.UNSUBSCRIBED
    elif lists:
        status = ContactStatus.CONFIRMED
    elif pending:
        status = ContactStatus.PENDING
    elif joined or left:
        status = ContactStatus.UNSUBSCRIBED
    else:
        status = ContactStatus.UNKNOWN
    timeline = sorted(
        [(s.consent.time, s.fields) for s in live] + [(u.time, u.fields) for u in history.updates],
        key=lambda pair: pair[0],
    )
    fields: dict[str, str] = {}
    for _, values in timeline:
        fields.update(values)
    return ContactView(email, status, lists, pending, left, fields)
