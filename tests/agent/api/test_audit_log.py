"""The audit log of a real agent: every state-changing call with who, what, when, from where;
reads left out; transactional sends summarised; the command line's changes and reading."""

from __future__ import annotations

import subprocess

import grpc
import pytest

from mailfleet.v1 import admin_pb2, events_pb2, suppression_pb2
from tests.agent.builders import campaign_request, transactional
from tests.peers.agent import AgentProcess, Stubs, agent_command


def _entries(admin: Stubs, after_id: int = 0) -> list[admin_pb2.AuditEntry]:
    found = admin.admin.ListAuditEntries(
        admin_pb2.ListAuditEntriesRequest(after_id=after_id), timeout=5
    )
    return list(found.entries)


def _cli(agent: AgentProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*agent_command(), *args, "--config", str(agent.config)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_changes_are_logged_with_who_what_where_and_reads_are_not(
    agent_process: AgentProcess, admin: Stubs
) -> None:
    made = admin.admin.CreateApiKey(
        admin_pb2.CreateApiKeyRequest(
            tenant_id=1, name="marketing", scope=admin_pb2.KEY_SCOPE_CAMPAIGNS, person="Mara"
        ),
        timeout=5,
    )
    marketer = agent_process.stubs(made.secret)
    campaign = marketer.campaigns.CreateCampaign(campaign_request("audit-1"), timeout=5)
    marketer.events.ListEvents(events_pb2.ListEventsRequest(), timeout=5)
    with pytest.raises(grpc.RpcError):
        marketer.suppression.RemoveSuppressions(
            suppression_pb2.RemoveSuppressionsRequest(emails=["a@example.com"]), timeout=5
        )

    entries = _entries(admin)
    assert [(e.action, e.outcome) for e in entries] == [
        ("CreateApiKey", "ok"),
        ("CreateCampaign", "ok"),
        ("RemoveSuppressions", "permission denied"),
    ]
    key_made, created, denied = entries
    assert key_made.key_name == "initial admin key" and key_made.peer == "127.0.0.1"
    assert f"key.key_id='{made.key.key_id}'" in key_made.summary
    assert made.secret.split("_", 2)[2] not in str(entries)
    assert (created.key_id, created.key_name, created.person) == (
        made.key.key_id,
        "marketing",
        "Mara",
    )
    assert f"-> id={campaign.id}" in created.summary
    assert denied.summary == "emails: 1" and "a@example.com" not in str(entries)
    assert created.time.seconds >= key_made.time.seconds
    # the cursor
    assert [e.action for e in _entries(admin, after_id=created.id)] == ["RemoveSuppressions"]


def test_sends_are_summarised_and_the_command_line_reads_and_is_logged(
    agent_process: AgentProcess, admin: Stubs
) -> None:
    for n in range(3):
        admin.transactional.SendMessage(transactional(f"audit-send-{n}"), timeout=10)
    assert not [e for e in _entries(admin) if e.action == "SendMessage"]  # held a minute
    made = _cli(agent_process, "key", "create", "--name", "shop", "--scope", "send")
    assert made.returncode == 0, made.stderr
    agent_process.terminate()  # a stopping agent writes the summaries it holds

    shown = _cli(agent_process, "audit")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split()[:3] == ["TIME", "(UTC)", "WHO"]
    created = next(line for line in lines if " key create " in line)
    assert "command line" in created and " local " in created and "scope=send" in created
    sends = next(line for line in lines if " SendMessage " in line)
    assert "3 messages in 3 calls since" in sends and "initial admin key" in sends
