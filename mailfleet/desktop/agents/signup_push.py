"""Pushing signup forms to the agents that publish them (``Signups.PutForm``), and taking
deleted ones down (``Signups.DeleteForm``).

Each agent of a form gets the form's latest revision once: what it accepted is recorded with
the hosted page's address and the embeddable snippet it reported; a form the agent refused
keeps the agent's reason, in words, for the page to show. An agent that cannot be reached is
simply tried again later (its revision stays behind).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import grpc
from sqlalchemy import Engine

from mailfleet.desktop.agents import registry
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.services import signup_forms
from mailfleet.desktop.services.signup_forms import FormSummary
from mailfleet.v1 import common_pb2, signups_pb2

_FIELD_TYPES = {
    "text": signups_pb2.FIELD_TYPE_TEXT,
    "number": signups_pb2.FIELD_TYPE_NUMBER,
    "date": signups_pb2.FIELD_TYPE_DATE,
    "checkbox": signups_pb2.FIELD_TYPE_CHECKBOX,
}


@dataclass
class FormPushResult:
    """What one push to one agent did."""

    pushed: list[str] = field(default_factory=list)  # the names of the forms it accepted
    refused: dict[str, str] = field(default_factory=dict)  # form name → the agent's reason
    taken_down: list[str] = field(default_factory=list)  # the ids of deleted forms

    @property
    def changed(self) -> bool:
        """Whether any form was sent or taken down."""
        return bool(self.pushed or self.refused or self.taken_down)


def form_message(form: FormSummary, list_names: dict[int, str]) -> signups_pb2.Form:
    """The contract's definition of a form designed on the desktop."""
    d = form.design
    return signups_pb2.Form(
        form_id=form.form_id,
        title=d.name,
        lists=[
            signups_pb2.FormList(list_id=str(i), name=list_names.get(i, str(i))) for i in d.list_ids
        ],
        fields=[
            signups_pb2.FormField(
                name=f.key, label=f.label, type=_FIELD_TYPES[f.type], required=f.required
            )
            for f in d.fields
        ],
        consent=signups_pb2.ConsentText(text=d.consent_text, version=d.consent_version),
        success_message=d.success_message,
        error_message=d.error_message,
        branding=signups_pb2.Branding(
            logo_url=d.logo_url,
            accent_color=d.accent_color,
            background_color=d.background_color,
        ),
        language=d.language,
        single_opt_in=not d.double_opt_in,
        confirmation=signups_pb2.ConfirmationMail(subject=d.confirm_subject, text=d.confirm_body),
        sender=common_pb2.Sender(from_address=d.from_address, from_name=d.from_name),
        closed=d.closed,
    )


def _refusal(exc: grpc.RpcError) -> str:
    code = exc.code() if isinstance(exc, grpc.Call) else None
    if code == grpc.StatusCode.INVALID_ARGUMENT and isinstance(exc, grpc.Call):
        return f"the agent refused the form: {exc.details()}"
    raise exc


def push(
    engine: Engine, workspace_id: int, record: AgentRecord, stop: threading.Event
) -> FormPushResult:
    """Take down every deleted form ``record`` still has, then push every form whose latest
    revision it lacks. Raises ``grpc.RpcError`` (and the registry's errors) when the agent
    cannot be reached; what was done stays recorded."""
    result = FormPushResult()
    with engine.connect() as conn:
        deleted = signup_forms.deletions_for(conn, record.id)
        pending = signup_forms.pending_for(conn, workspace_id, record.id)
    if not pending and not deleted:
        return result
    with registry.stubs(record) as agent:
        for form_id in deleted:
            if stop.is_set():
                return result
            agent.signups.DeleteForm(
                signups_pb2.DeleteFormRequest(form_id=form_id), timeout=registry.CALL_TIMEOUT
            )
            with engine.begin() as conn:
                signup_forms.record_deletion(conn, record.id, form_id)
            result.taken_down.append(form_id)
        for item in pending:
            if stop.is_set():
                break
            form = item.form
            try:
                info = agent.signups.PutForm(
                    signups_pb2.PutFormRequest(form=form_message(form, item.list_names)),
                    timeout=registry.CALL_TIMEOUT,
                )
                snippet = agent.signups.GetFormSnippet(
                    signups_pb2.GetFormSnippetRequest(form_id=form.form_id),
                    timeout=registry.CALL_TIMEOUT,
                )
            except grpc.RpcError as exc:
                reason = _refusal(exc)
                result.refused[form.name] = reason
                with engine.begin() as conn:
                    signup_forms.record_push(conn, form.id, record.id, form.revision, error=reason)
                continue
            with engine.begin() as conn:
                signup_forms.record_push(
                    conn, form.id, record.id, form.revision, info.url, snippet.html
                )
            result.pushed.append(form.name)
    return result
