"""An agent's capture mailbox: what its capture route kept instead of sending, read for display."""

from __future__ import annotations

import email
import email.policy
import html
from dataclasses import dataclass
from email.message import EmailMessage

from mailfleet.desktop.agents import registry
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.v1 import capture_pb2

# The newest messages shown of a mailbox that may keep many more.
PAGE = 500


@dataclass(frozen=True)
class Shown:
    """A captured message ready to display."""

    subject: str
    headers: str
    body_html: str


def parse_message(data: bytes) -> Shown:
    """Headers and the best body of an RFC 5322 message (HTML preferred, else text)."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    headers = "\n".join(f"{k}: {v}" for k, v in message.items())
    part = message.get_body(preferencelist=("html", "plain"))
    body = ""
    if part is not None:
        content = part.get_content()
        body = (
            content
            if part.get_content_subtype() == "html"
            else (f"<pre>{html.escape(content)}</pre>")
        )
    return Shown(str(message.get("Subject", "")), headers, body)


def list_captured(record: AgentRecord) -> list[capture_pb2.CapturedMessage]:
    """The newest captured messages of the agent, newest first (blocking)."""
    found: list[capture_pb2.CapturedMessage] = []
    with registry.stubs(record) as agent:
        after = 0
        while True:
            page = agent.capture.ListCaptured(
                capture_pb2.ListCapturedRequest(after_id=after, limit=1000),
                timeout=registry.CALL_TIMEOUT,
            )
            found.extend(page.messages)
            if len(page.messages) < 1000:
                break
            after = page.messages[-1].id
    return list(reversed(found[-PAGE:]))


def fetch(record: AgentRecord, captured_id: int) -> bytes:
    """One captured message's bytes (blocking)."""
    with registry.stubs(record) as agent:
        reply = agent.capture.GetCaptured(
            capture_pb2.GetCapturedRequest(captured_id=captured_id), timeout=registry.CALL_TIMEOUT
        )
    return bytes(reply.data)
