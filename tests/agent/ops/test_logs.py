"""A full run at DEBUG in JSON lines: every line parses, outcomes carry their campaign and
message ids, and no key or password used anywhere in the run appears in the log or, in clear,
in the store."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from mailfleet.agent.identity import keys
from mailfleet.v1 import admin_pb2, campaigns_pb2, common_pb2, events_pb2
from tests.agent.builders import batches, campaign_request, transactional, wait_until
from tests.peers.agent import AgentProcess, agent_command
from tests.peers.smtp import SmtpSink, refuse

RELAY_PASSWORD = "correct-horse-battery-staple-42"
WRONG_SECRET = "W" * 43


def _pem_body(path: Path) -> list[str]:
    """The base64 lines of a PEM private key."""
    return [line for line in path.read_text().splitlines() if line and not line.startswith("-")]


@dataclass(frozen=True)
class Run:
    """What the run used and produced, for the checks afterwards."""

    created_key: str
    campaign_id: int
    bounced_ids: set[int]


def run_everything(agent: AgentProcess, sink: SmtpSink) -> Run:
    """Keys right and wrong, a campaign with a bounce, a receipt, a reload, a clean stop."""
    admin = agent.stubs()
    created = admin.admin.CreateApiKey(
        admin_pb2.CreateApiKeyRequest(tenant_id=1, name="automation")
    ).secret
    user = agent.stubs(created)
    parts = keys.split(created)
    assert parts is not None
    for bad in (f"{keys.PREFIX}_{parts[0]}_{WRONG_SECRET}", "nonsense"):
        with pytest.raises(grpc.RpcError) as refused:
            agent.stubs(bad).campaigns.CreateCampaign(campaign_request("never"))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

    c = user.campaigns.CreateCampaign(campaign_request("logs"))
    rows = [common_pb2.Recipient(email=f"u{i}@example.com", values=["A", "B"]) for i in range(20)]
    rows.append(common_pb2.Recipient(email="gone@example.com", values=["A", "B"]))
    user.campaigns.UploadRecipients(batches(c.id, rows))
    ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
    user.campaigns.StartCampaign(ref)
    user.transactional.SendMessage(transactional("receipt-1"))
    final = list(user.campaigns.WatchCampaign(ref, timeout=60))[-1]
    assert final.counts.delivered == 20 and final.counts.bounced == 1
    wait_until(lambda: sink.count == 21, 30, "the receipt")
    events = admin.events.ListEvents(events_pb2.ListEventsRequest(limit=1000)).events
    bounced = {e.message_id for e in events if e.type == events_pb2.EVENT_TYPE_MESSAGE_BOUNCED}
    assert agent.proc is not None
    agent.proc.send_signal(signal.SIGHUP)  # reads the password file again
    wait_until(lambda: "reloaded " in agent.log(), 30, "the reload")
    assert agent.terminate() == 0
    return Run(created, c.id, bounced)


def test_a_full_run_logs_ids_and_never_a_secret(tmp_path: Path) -> None:
    with SmtpSink(tls="starttls", users={"mailer": RELAY_PASSWORD}) as sink:
        sink.rule("gone@example.com", refuse())
        agent = AgentProcess(
            tmp_path / "agent",
            extra_config=(
                '[delivery]\nworkers = 2\ndefault_route = "relay"\n'
                f'[routes.relay]\ntype = "smtp"\nhost = "127.0.0.1"\nport = {sink.port}\n'
                'tls = "starttls"\nverify_tls = false\nusername = "mailer"\n'
                'password_file = "secrets/relay.password"\n'
            ),
        )
        password_file = agent.data_dir / "secrets" / "relay.password"
        password_file.write_text(RELAY_PASSWORD + "\n")
        password_file.chmod(0o600)
        config = agent.config.read_text()
        agent.config.write_text(
            config.replace('level = "INFO"', 'level = "DEBUG"').replace(
                "json_lines = false", "json_lines = true"
            )
        )
        subprocess.run(
            [
                *agent_command(),
                "dkim",
                "generate",
                "shop.example",
                "--selector",
                "s1",
                "--config",
                str(agent.config),
            ],
            check=True,
            capture_output=True,
        )
        try:
            agent.start()
            run = run_everything(agent, sink)
        finally:
            agent.close()

    log = agent.log()
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert lines, "the agent logged nothing"
    bounce = [e for e in lines if e["message"].startswith("bounced to <gone@example.com>")]
    assert len(bounce) == 1
    assert bounce[0]["campaign_id"] == run.campaign_id
    assert {bounce[0]["message_id"]} == run.bounced_ids
    delivered = [e for e in lines if e["message"].startswith("delivered to <")]
    assert len(delivered) == 21 and all("message_id" in e for e in delivered)
    assert any(
        e.get("campaign_id") == run.campaign_id and "completed" in e["message"] for e in lines
    )

    data = agent.data_dir
    secrets = {
        "admin key": agent.pairing.api_key,
        "admin key's secret": agent.pairing.api_key.split("_", 2)[2],
        "created key": run.created_key,
        "created key's secret": run.created_key.split("_", 2)[2],
        "wrong secret": WRONG_SECRET,
        "relay password": RELAY_PASSWORD,
        "AUTH PLAIN": base64.b64encode(f"\0mailer\0{RELAY_PASSWORD}".encode()).decode(),
        "AUTH LOGIN": base64.b64encode(RELAY_PASSWORD.encode()).decode(),
    }
    pems = [data / "tls" / "agent.key", *sorted((data / "dkim").rglob("*.pem"))]
    assert len(pems) == 2
    for pem in pems:
        for n, line in enumerate(_pem_body(pem)):
            secrets[f"{pem.name} line {n}"] = line
    leaked = [name for name, value in secrets.items() if value in log]
    assert leaked == [], f"in the log: {leaked}"

    # Nor are the keys or the password in the store in clear.
    store = b"".join(
        p.read_bytes() for p in data.iterdir() if p.name.startswith("agent.db") and p.is_file()
    )
    clear = ["admin key's secret", "created key's secret", "wrong secret", "relay password"]
    assert [name for name in clear if secrets[name].encode() in store] == []
    assert os.stat(password_file).st_mode & 0o777 == 0o600
