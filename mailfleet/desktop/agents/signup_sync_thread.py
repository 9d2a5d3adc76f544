"""Keeping one agent's signup forms and the desktop's contacts in step, on a thread of its own:
give it the workspace's branding and the forms it lacks, send the confirmation mails imports
asked of its forms, then pull and apply what visitors did since the last time.

The agent hosts the forms while the desktop is closed, so nothing is lost in between: the pull
starts from the agent's signup cursor. It runs when woken (a form or the branding was saved,
or the agent is reachable again) and every ``retry_seconds``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from mailfleet.desktop.agents import branding_push, confirm_send, signup_pull, signup_push
from mailfleet.desktop.agents.confirm_send import SentConfirmations
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.agents.signup_push import FormPushResult
from mailfleet.desktop.agents.sync_thread import AgentSyncThread
from mailfleet.desktop.services.signups import AppliedSignups

RETRY_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class SignupSync:
    """What one round did with one agent."""

    forms: FormPushResult
    signups: AppliedSignups
    confirmations: SentConfirmations
    branded: bool = False  # the workspace's branding was sent

    @property
    def changed(self) -> bool:
        """Whether the branding, a form or a confirmation mail was sent or a change applied."""
        return (
            self.branded
            or self.forms.changed
            or self.signups.changes > 0
            or bool(self.confirmations.sent or self.confirmations.refused)
        )


def sync(
    engine: Engine, workspace_id: int, record: AgentRecord, stop: threading.Event
) -> SignupSync:
    """One round: push, send, then pull."""
    branded = branding_push.push(engine, record)
    forms = signup_push.push(engine, workspace_id, record, stop)
    sent = confirm_send.send_for_agent(engine, workspace_id, record, stop)
    return SignupSync(forms, signup_pull.pull(engine, workspace_id, record, stop), sent, branded)


class SignupSyncThread(AgentSyncThread[SignupSync]):
    """Pushes forms to one agent and pulls its signups until ``stop``."""

    def __init__(
        self,
        engine: Engine,
        workspace_id: int,
        record: AgentRecord,
        on_result: Callable[[int, SignupSync | str], None],
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        super().__init__(
            record,
            lambda stop: sync(engine, workspace_id, record, stop),
            lambda result: result.changed,
            on_result,
            retry_seconds,
            "signups",
        )
