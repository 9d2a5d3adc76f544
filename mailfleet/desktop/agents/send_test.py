"""A test send: a template to a few addresses through one agent, before the campaign goes out."""

from __future__ import annotations

import uuid

import grpc
from sqlalchemy import Engine

from mailfleet.desktop.agents import media_publish, registry
from mailfleet.desktop.services import templates
from mailfleet.desktop.services.emails import check_address
from mailfleet.v1 import common_pb2, transactional_pb2


def send(
    engine: Engine,
    workspace_id: int,
    agent_id: int,
    addresses: list[str],
    subject: str,
    html: str,
    text: str,
    from_address: str,
    sample_contact: str = "",
) -> list[str]:
    """Send the template to a few addresses through one of the workspace's agents; returns what
    was queued.

    Merge fields come from ``sample_contact`` when given (else they are empty); the subject is
    marked "[Test]".
    """
    good = []
    for raw in addresses:
        checked = check_address(raw)
        if checked.email is None:
            raise ValueError(f"{raw!r} is not an email address: {checked.error}")
        good.append(checked.email)
    if not good or len(good) > 10:
        raise ValueError("send a test to 1-10 addresses")
    values: dict[str, str] = {}
    with engine.connect() as conn:
        record = registry.get_agent(conn, workspace_id, agent_id)
        if sample_contact.strip():
            _, _, values = templates.contact_values(conn, workspace_id, sample_contact)
    bucket = media_publish.destination(engine, workspace_id)
    with registry.stubs(record) as agent:
        try:
            published = media_publish.publish(engine, workspace_id, agent, html, bucket)
            reply = agent.transactional.SendBatch(
                _batch(good, from_address, values, f"[Test] {subject}", published, text),
                timeout=registry.CALL_TIMEOUT,
            )
        except grpc.RpcError as exc:
            raise registry.AgentError(registry.describe_rpc_error(exc)) from exc
    refused = [r.rejected for r in reply.results if r.HasField("rejected")]
    if refused:
        raise ValueError("; ".join(f"{r.email}: {r.detail}" for r in refused))
    return good


def _batch(
    addresses: list[str],
    from_address: str,
    values: dict[str, str],
    subject: str,
    html: str,
    text: str,
) -> transactional_pb2.SendBatchRequest:
    return transactional_pb2.SendBatchRequest(
        messages=[
            transactional_pb2.SendMessageRequest(
                idempotency_key=f"test-{uuid.uuid4().hex}",
                sender=common_pb2.Sender(from_address=from_address),
                to=common_pb2.Recipient(email=address, fields=values),
                content=common_pb2.Content(subject=subject, html=html, text=text),
                tags=["test-send"],
            )
            for address in addresses
        ]
    )
