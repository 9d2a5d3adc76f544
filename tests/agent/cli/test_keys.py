"""``mailfleet-agent key create|list|revoke`` beside a real running agent."""

from __future__ import annotations

import subprocess

import grpc
import pytest

from mailfleet.v1 import agent_pb2, events_pb2
from tests.agent.builders import transactional, wait_until
from tests.peers.agent import AgentProcess, agent_command


def key(agent: AgentProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*agent_command(), "key", *args, "--config", str(agent.config)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_key_made_on_the_command_line_works_at_once_and_stops_when_revoked(
    agent_process: AgentProcess,
) -> None:
    made = key(
        agent_process,
        "create",
        "--name",
        "shop app",
        "--scope",
        "send",
        "--expires",
        "30d",
        "--person",
        "Ada Lovelace",
    )
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("mfk_") and made.stdout.count("\n") == 1
    key_id = secret.split("_")[1]
    assert f"key {key_id} ('shop app', send scope) created for tenant 'default'" in made.stderr

    stubs = agent_process.stubs(secret)
    stubs.transactional.SendMessage(transactional("cli-key-1"), timeout=10)
    with pytest.raises(grpc.RpcError) as err:
        stubs.events.ListEvents(events_pb2.ListEventsRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED

    listed = key(agent_process, "list")
    assert listed.returncode == 0
    row = next(line for line in listed.stdout.splitlines() if line.startswith(key_id))
    assert row.split()[-1] == "active" and "Ada Lovelace" in row and " send " in row
    assert secret.split("_", 2)[2] not in listed.stdout

    revoked = key(agent_process, "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr

    def refused() -> bool:
        try:
            stubs.info.GetInfo(agent_pb2.GetInfoRequest(), timeout=5)
        except grpc.RpcError as exc:
            return exc.code() == grpc.StatusCode.UNAUTHENTICATED
        return False

    wait_until(refused, 60, "the revoked key to be refused")
    assert key_id not in key(agent_process, "list").stdout
    assert "revoked" in key(agent_process, "list", "--revoked").stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("revoke", "nosuchkey"), "mailfleet-agent: no API key 'nosuchkey'"),
        (
            ("create", "--name", "x", "--scope", "read", "--tenant", "nobody"),
            "mailfleet-agent: no tenant named 'nobody'",
        ),
        (
            ("create", "--name", "x", "--scope", "read", "--expires", "2020-01-01"),
            "mailfleet-agent: that expiry is already past",
        ),
    ],
)
def test_mistakes_are_one_line_and_exit_1(
    shared_agent: AgentProcess, args: tuple[str, ...], says: str
) -> None:
    done = key(shared_agent, *args)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", says + "\n")


def test_the_kept_admin_key_is_not_revoked_by_the_command_line(
    shared_agent: AgentProcess,
) -> None:
    kept_id = shared_agent.pairing.api_key.split("_")[1]
    done = key(shared_agent, "revoke", kept_id)
    assert done.returncode == 1 and "kept for `pairing` and `queue`" in done.stderr
    assert shared_agent.stubs().info.GetInfo(agent_pb2.GetInfoRequest(), timeout=5).admin
