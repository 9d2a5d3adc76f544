"""``make run``: a local agent in ./var/agent, and the desktop beside it when there is a screen.

The agent keeps its data between runs. The desktop is told where it runs and pairs it as this
computer's capture agent; its pairing string is printed too, for other desktops and scripts.
Without a display (or with ``--agent-only``) the agent runs until Ctrl-C.

``make run PORT=7543`` moves the agent's gRPC port (kept in its config for the next runs), and
its HTTP port with it, to PORT + 10. A port another program holds is said in one line with a
free PORT to use instead; an agent already running from the data directory is used as it is.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mailfleet.agent.client.localagent import AgentStartError, LocalAgent, read_pairing
from mailfleet.agent.config import AgentSettings, load
from mailfleet.agent.errors import ConfigError, bind_failure
from mailfleet.agent.init import set_listen
from mailfleet.agent.store.lock import DataDirBusy, DataDirLock
from mailfleet.agent.validation import split_host_port

DEFAULT_LISTEN = "127.0.0.1:8470"
# The HTTP port follows the gRPC port as `mailfleet-agent init`'s defaults do (8470, 8480), so
# PORT is the one knob.
HTTP_OFFSET = 10
# How far above a busy port to look for a free one to suggest.
_SUGGEST_RANGE = 200
_POLL_SECONDS = 0.5  # how soon a wait notices a signal another thread took


def has_screen() -> bool:
    """Whether a desktop window can open: an X or Wayland display, or a Qt platform chosen
    explicitly (``QT_QPA_PLATFORM=offscreen`` draws without one)."""
    return any(os.environ.get(n) for n in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def desktop_command(data_dir: Path) -> list[str]:
    """The desktop, told that the agent in ``data_dir`` runs already, so it pairs that one."""
    return [sys.executable, "-m", "mailfleet.desktop.app", "--local-agent", str(data_dir.resolve())]


def _port(text: str) -> int:
    """A --port argument: a TCP port that leaves room for the HTTP port above it."""
    if not text.isdigit() or not 1 <= int(text) <= 65535 - HTTP_OFFSET:
        raise argparse.ArgumentTypeError(f"PORT must be a number from 1 to {65535 - HTTP_OFFSET}")
    return int(text)


def _with_port(listen: str, port: int) -> str:
    host, _ = split_host_port(listen)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listen_addresses(
    settings: AgentSettings | None, port: int | None, grpc_listen: str | None
) -> tuple[str, str | None]:
    """The gRPC and HTTP addresses the agent is to listen on: ``port`` (and ``port`` +
    HTTP_OFFSET) on the configured hosts, else what its config says. An HTTP address of None
    lets a new agent pick a free port."""
    grpc = grpc_listen or (settings.grpc.listen if settings else DEFAULT_LISTEN)
    http = settings.http.listen if settings else None
    if port is not None:
        grpc = _with_port(grpc, port)
        http = _with_port(http or grpc, port + HTTP_OFFSET)
    return grpc, http


def _free_pair(grpc: str, http: str | None, after: int) -> int | None:
    """A PORT above ``after`` whose gRPC and HTTP ports are both free."""
    for port in range(after + 1, min(after + _SUGGEST_RANGE, 65535 - HTTP_OFFSET)):
        candidates = [_with_port(grpc, port)]
        if http is not None:
            candidates.append(_with_port(http, port + HTTP_OFFSET))
        if not any(bind_failure(listen) for listen in candidates):
            return port
    return None


def port_problem(grpc: str, http: str | None) -> str:
    """One line saying which port the agent cannot listen on and what to run instead, or ""."""
    grpc_port = split_host_port(grpc)[1]
    for listen, what in ((grpc, ""), (http, " (the local agent's HTTP port)")):
        if listen is None:
            continue
        reason = bind_failure(listen)
        if not reason:
            continue
        port = split_host_port(listen)[1]
        busy = (
            f"Port {port}{what} is in use by another program."
            if "in use" in reason
            else f"The local agent cannot listen on {listen}{what}: {reason}."
        )
        instead = _free_pair(grpc, http, grpc_port)
        return f"{busy} Run: make run PORT={instead}" if instead else busy
    return ""


def _running(settings: AgentSettings) -> DataDirBusy | None:
    """Whether an agent runs from the data directory already (it holds the directory's lock)."""
    lock = DataDirLock(settings.data_dir)
    try:
        lock.acquire()
    except DataDirBusy as busy:
        return busy
    lock.release()
    return None


def _use_running(data_dir: Path, busy: DataDirBusy, port: int | None, agent_only: bool) -> int:
    """Work with the agent already running from ``data_dir``: open the desktop on it, or say
    how to reach it; refuse to move it to another port while it runs."""
    pairing = read_pairing(data_dir)
    holder = f"pid {busy.pid}, " if busy.pid else ""
    if port is not None and port != pairing.port:
        print(
            f"The local agent in {data_dir} is already running ({holder}port {pairing.port}). "
            f"Stop it first to run it on port {port}.",
            file=sys.stderr,
        )
        return 1
    print(
        f"The local agent in {data_dir} is already running ({holder}port {pairing.port}): using it"
    )
    print(f"pairing string (for another desktop or a script): {pairing}")
    if has_screen() and not agent_only:
        return subprocess.call(desktop_command(data_dir))
    return 0


def _start(data_dir: Path, port: int | None, grpc_listen: str | None) -> LocalAgent:
    """Start the agent of ``data_dir`` on the ports asked for (moving them in its config);
    raises ConfigError or AgentStartError with one line saying why it cannot."""
    config = data_dir / "agent.toml"
    settings = load(config) if config.exists() else None
    grpc, http = listen_addresses(settings, port, grpc_listen)
    problem = port_problem(grpc, http)
    if problem:
        raise ConfigError(problem)
    if settings is not None:
        if grpc != settings.grpc.listen:
            set_listen(config, "grpc", grpc)
        if http is not None and http != settings.http.listen:
            set_listen(config, "http", http)
    agent = LocalAgent(data_dir, grpc, http_listen=http)
    agent.start(data_dir.parent / "agent.log")
    return agent


def main(argv: list[str] | None = None) -> int:
    """Run the local agent, then the desktop (or wait) and stop the agent at the end."""
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("var/agent"))
    parser.add_argument(
        "--port", type=_port, help="the agent's gRPC port (its HTTP port is PORT + 10)"
    )
    parser.add_argument("--grpc-listen", help=f"HOST:PORT of the gRPC API ({DEFAULT_LISTEN})")
    parser.add_argument("--agent-only", action="store_true")
    args = parser.parse_args(argv)
    data_dir: Path = args.data_dir

    config = data_dir / "agent.toml"
    try:
        busy = _running(load(config)) if config.exists() else None
        if busy is not None:
            return _use_running(data_dir, busy, args.port, args.agent_only)
        agent = _start(data_dir, args.port, args.grpc_listen)
    except (ConfigError, AgentStartError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"local agent running (log: {data_dir.parent / 'agent.log'})")
    print(f"pairing string (for another desktop or a script): {agent.pairing}")
    # SIGTERM then unwinds through the finally below, which stops the desktop and the agent.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    desktop: subprocess.Popen[bytes] | None = None
    try:
        # Waits that wake by themselves: the gRPC client's threads may take the SIGTERM, and a
        # main thread blocked in pause() or waitpid() would then never run its handler.
        if has_screen() and not args.agent_only:
            desktop = subprocess.Popen(desktop_command(data_dir))
            while desktop.poll() is None:
                time.sleep(_POLL_SECONDS)
            return desktop.returncode
        print("no display: the agent runs until Ctrl-C")
        while True:
            time.sleep(_POLL_SECONDS)
    except KeyboardInterrupt:
        return 0
    finally:
        if desktop is not None and desktop.poll() is None:
            desktop.terminate()
            desktop.wait(30)
        agent.stop()


if __name__ == "__main__":
    sys.exit(main())
