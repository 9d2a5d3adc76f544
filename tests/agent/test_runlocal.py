"""``make run`` (``mailfleet.agent.runlocal``) with real processes: a port another program holds is
one line naming it and a PORT to use instead, with a non-zero exit and no traceback; PORT moves the
agent's ports and its config keeps them; an agent already running from the data directory is
used as it is, never started twice or taken for an impostor."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailfleet.agent.client.localagent import AgentStartError, LocalAgent, free_port, read_pairing
from mailfleet.agent.errors import bind_failure
from mailfleet.agent.identity.pairing import Pairing, parse
from tests.peers.agent import AgentProcess

REPO = Path(__file__).resolve().parents[2]
HTTP_OFFSET = 10
_PAIRING_LINE = "pairing string (for another desktop or a script): "
_START_TIMEOUT = 120.0


def _free_ports() -> int:
    """A port P with P and P + 10 free, as ``make run PORT=P`` needs."""
    while True:
        port = free_port()
        if port + HTTP_OFFSET < 65536 and not bind_failure(f"127.0.0.1:{port + HTTP_OFFSET}"):
            return port


@pytest.fixture
def occupy() -> Iterator[Callable[[int], None]]:
    """Listens on loopback ports as another program would (``occupy(port)``)."""
    held: list[socket.socket] = []

    def listen(port: int) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # free_port's TIME_WAIT
        sock.bind(("127.0.0.1", port))
        sock.listen()
        held.append(sock)

    yield listen
    for sock in held:
        sock.close()


def _command(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "mailfleet.agent.runlocal", "--data-dir", str(data_dir),
            "--agent-only", *args]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(data_dir, *args), cwd=REPO, env=_env(), capture_output=True, text=True,
        timeout=_START_TIMEOUT,
    )  # fmt: skip


class _Running:
    """``make run`` headless in the background, up once it has printed its pairing string."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            _command(data_dir, *args), cwd=REPO, env=_env(), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.output: list[str] = []
        assert self.proc.stdout is not None
        deadline = time.monotonic() + _START_TIMEOUT
        while not any(line.startswith("no display") for line in self.output):
            line = self.proc.stdout.readline()
            assert line and time.monotonic() < deadline, "make run did not start:\n" + "".join(
                self.output
            )
            self.output.append(line)

    @property
    def pairing(self) -> Pairing:
        found = [line for line in self.output if line.startswith(_PAIRING_LINE)]
        return parse(found[0].removeprefix(_PAIRING_LINE))

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        # make run gives its agent 30 s to finish its writes before a kill and 10 s more after
        # it; on a busy machine the 60 s this waited were once not enough
        return self.proc.wait(_START_TIMEOUT)


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_busy_grpc_port_is_one_line_with_a_port_to_use_instead(
    tmp_path: Path, occupy: Callable[[int], None]
) -> None:
    port = _free_ports()
    occupy(port)
    line = _one_line(_run(tmp_path / "var" / "agent", "--port", str(port)))
    found = re.fullmatch(
        rf"Port {port} is in use by another program\. Run: make run PORT=(\d+)", line
    )
    assert found, line
    assert int(found[1]) != port


def test_a_busy_http_port_is_named_as_the_agents_http_port(
    tmp_path: Path, occupy: Callable[[int], None]
) -> None:
    port = _free_ports()
    occupy(port + HTTP_OFFSET)
    line = _one_line(_run(tmp_path / "var" / "agent", "--port", str(port)))
    assert re.fullmatch(
        rf"Port {port + HTTP_OFFSET} \(the local agent's HTTP port\) is in use by another "
        rf"program\. Run: make run PORT=\d+",
        line,
    ), line


def test_another_agent_on_the_port_is_a_port_in_use_not_a_fingerprint_mismatch(
    tmp_path: Path,
) -> None:
    """The case of the issue: another agent answers on the port with its own certificate. Even
    past make run's check (the port taken in between), the start fails with the agent's reason."""
    other = AgentProcess(tmp_path / "other")
    other.start()
    try:
        line = _one_line(_run(tmp_path / "var" / "agent", "--port", str(other.port)))
        assert line.startswith(f"Port {other.port} is in use by another program."), line

        local = LocalAgent(tmp_path / "late", f"127.0.0.1:{other.port}")
        with pytest.raises(AgentStartError) as refused:
            local.start(tmp_path / "late.log")
        message = str(refused.value)
        assert message == (
            f"The local agent did not start: cannot listen for gRPC on 127.0.0.1:{other.port}: "
            f"address already in use (log: {tmp_path / 'late.log'})"
        )
    finally:
        other.terminate()


def test_port_moves_the_agent_and_a_running_one_is_used_not_started_twice(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "var" / "agent"
    first_port = _free_ports()
    first = _Running(data_dir, "--port", str(first_port))
    try:
        assert first.pairing.port == first_port

        again = _run(data_dir)
        assert again.returncode == 0, again.stdout + again.stderr
        said = again.stdout.splitlines()
        assert re.fullmatch(
            rf"The local agent in {re.escape(str(data_dir))} is already running "
            rf"\(pid \d+, port {first_port}\): using it",
            said[0],
        ), said
        assert parse(said[1].removeprefix(_PAIRING_LINE)) == first.pairing

        moved_port = _free_ports()
        refused = _one_line(_run(data_dir, "--port", str(moved_port)))
        assert refused.endswith(f"Stop it first to run it on port {moved_port}."), refused
    finally:
        assert first.stop() == 0

    moved = _Running(data_dir, "--port", str(moved_port))
    try:
        assert moved.pairing.port == moved_port
        assert moved.pairing.fingerprint == first.pairing.fingerprint  # the same agent, moved
    finally:
        assert moved.stop() == 0
    # Kept in its config: the next plain `make run` listens there again.
    assert read_pairing(data_dir).port == moved_port
    assert (
        f'listen = "127.0.0.1:{moved_port + HTTP_OFFSET}"' in (data_dir / "agent.toml").read_text()
    )
