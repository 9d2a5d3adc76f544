"""Automations: put versioned definitions, list, activate and pause them, feed them an app's
events and contacts' fields, read per-step counts. The coordinator's runner
(:mod:`mailfleet.agent.automations.runner`) does the rest."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import grpc

from mailfleet.agent import validation
from mailfleet.agent.api import auth, requests
from mailfleet.agent.api.convert import timestamp
from mailfleet.agent.automations import definition, triggers
from mailfleet.agent.errors import InvalidArgument
from mailfleet.agent.store import automations
from mailfleet.agent.store.automations import Automation, AutomationState
from mailfleet.agent.store.handle import Store
from mailfleet.agent.validation import is_field_name
from mailfleet.v1 import automations_pb2, automations_pb2_grpc


def _info(found: Automation, changed: bool = False) -> automations_pb2.AutomationInfo:
    return automations_pb2.AutomationInfo(
        name=found.name,
        state=automations_pb2.AutomationState.ValueType(int(found.state)),
        version=found.version,
        definition_json=found.definition,
        active_enrolments=found.active_enrolments,
        updated_at=timestamp(found.updated_at),
        changed=changed,
    )


def _name(value: str) -> str:
    return validation.text_line("name", value, required=True, limit=100)


def _fields(values: Any) -> dict[str, str]:
    fields = dict(values)
    for name, value in fields.items():
        if not is_field_name(name) or "\x00" in value:
            raise InvalidArgument("fields", f"{name!r} is not a usable field")
    return fields


class AutomationsService(automations_pb2_grpc.AutomationsServicer):
    """Each tenant's automations in the agent's store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def PutAutomation(
        self,
        request: automations_pb2.PutAutomationRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> automations_pb2.AutomationInfo:
        tenant_id = auth.caller().tenant_id
        name = _name(request.name)
        rules = definition.parse(request.definition_json)
        text, trigger, now = definition.dump(rules), rules.trigger_key(), time.time()
        found, changed = await self._store.write(
            lambda c: automations.put(c, tenant_id, name, text, trigger, now)
        )
        return _info(found, changed)

    async def ListAutomations(
        self,
        request: automations_pb2.ListAutomationsRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> automations_pb2.ListAutomationsResponse:
        tenant_id = auth.caller().tenant_id
        found = await self._store.read(lambda c: automations.list_(c, tenant_id))
        return automations_pb2.ListAutomationsResponse(automations=[_info(a) for a in found])

    async def _set_state(self, name: str, state: AutomationState) -> automations_pb2.AutomationInfo:
        tenant_id, checked, now = auth.caller().tenant_id, _name(name), time.time()
        found = await self._store.write(
            lambda c: automations.set_state(c, tenant_id, checked, state, now)
        )
        return _info(found)

    async def ActivateAutomation(
        self, request: automations_pb2.AutomationRef, context: grpc.aio.ServicerContext[Any, Any]
    ) -> automations_pb2.AutomationInfo:
        return await self._set_state(request.name, AutomationState.ACTIVE)

    async def PauseAutomation(
        self, request: automations_pb2.AutomationRef, context: grpc.aio.ServicerContext[Any, Any]
    ) -> automations_pb2.AutomationInfo:
        return await self._set_state(request.name, AutomationState.PAUSED)

    async def SendEvent(
        self,
        request: automations_pb2.SendEventRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> automations_pb2.SendEventResponse:
        tenant_id = auth.caller().tenant_id
        try:
            name = definition.EventTrigger(kind="event", name=request.name).name
        except ValueError:
            raise InvalidArgument("name", "1-100 letters, digits and _ . : - characters") from None
        email = requests.address("email", request.email)
        key = requests.idempotency_key("idempotency_key", request.idempotency_key)
        fields, now = _fields(request.fields), time.time()
        enrolled = await self._store.write(
            lambda c: triggers.on_event(c, tenant_id, name, email, fields, f"event:{key}", now)
        )
        return automations_pb2.SendEventResponse(enrolled=enrolled)

    async def PutContact(
        self,
        request: automations_pb2.PutContactRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> automations_pb2.PutContactResponse:
        tenant_id = auth.caller().tenant_id
        email = requests.address("email", request.email)
        fields, now = _fields(request.fields), time.time()
        await self._store.write(lambda c: automations.put_contact(c, tenant_id, email, fields, now))
        return automations_pb2.PutContactResponse()

    async def GetStepStats(
        self,
        request: automations_pb2.GetStepStatsRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> automations_pb2.GetStepStatsResponse:
        tenant_id, name, asked = auth.caller().tenant_id, _name(request.name), request.version

        def read(conn: sqlite3.Connection) -> automations_pb2.GetStepStatsResponse:
            found = automations.get(conn, tenant_id, name)
            version = asked or found.version
            text = automations.version_definition(conn, found.automation_id, version)
            counted = {
                s.step: s for s in automations.step_stats(conn, found.automation_id, version)
            }
            steps = []
            for i, step in enumerate(definition.parse(text).steps):
                s = counted.get(i, automations.StepStats(i))
                steps.append(
                    automations_pb2.StepStats(
                        step=i,
                        kind=step.kind,
                        entered=s.entered,
                        sent=s.sent,
                        opened=s.opened,
                        clicked=s.clicked,
                        exited=s.exited,
                    )
                )
            return automations_pb2.GetStepStatsResponse(version=version, steps=steps)

        return await self._store.read(read)
