"""``make run``: a local agent in ./var/agent, and the desktop beside it when there is a screen.

The agent keeps its data between runs. The desktop is told where it runs and pairs it as this
computer's capture agent; its pairing string is printed too, for other desktops and scripts.
Without a display (or with ``--agent-only``) the agent runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from agent.client.localagent import LocalAgent

DEFAULT_LISTEN = "127.0.0.1:8470"


def has_screen() -> bool:
    """Whether a desktop window can open: an X or Wayland display, or a Qt platform chosen
    explicitly (``QT_QPA_PLATFORM=offscreen`` draws without one)."""
    return any(os.environ.get(n) for n in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def desktop_command(data_dir: Path) -> list[str]:
    """The desktop, told that the agent in ``data_dir`` runs already, so it pairs that one."""
    return [sys.executable, "-m", "desktop.app", "--local-agent", str(data_dir.resolve())]


def main(argv: list[str] | None = None) -> int:
    """Run the local agent, then the desktop (or wait) and stop the agent at the end."""
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("var/agent"))
    parser.add_argument("--grpc-listen", default=DEFAULT_LISTEN)
    parser.add_argument("--agent-only", action="store_true")
    args = parser.parse_args(argv)

    agent = LocalAgent(args.data_dir, args.grpc_listen)
    agent.start(args.data_dir.parent / "agent.log")
    print(f"local agent running (log: {args.data_dir.parent / 'agent.log'})")
    print(f"pairing string (for another desktop or a script): {agent.pairing}")
    # SIGTERM then unwinds through the finally below, which stops the desktop and the agent.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    desktop: subprocess.Popen[bytes] | None = None
    try:
        if has_screen() and not args.agent_only:
            desktop = subprocess.Popen(desktop_command(args.data_dir))
            return desktop.wait()
        print("no display: the agent runs until Ctrl-C")
        while True:
            signal.pause()
    except KeyboardInterrupt:
        return 0
    finally:
        if desktop is not None and desktop.poll() is None:
            desktop.terminate()
            desktop.wait(30)
        agent.stop()


if __name__ == "__main__":
    sys.exit(main())
