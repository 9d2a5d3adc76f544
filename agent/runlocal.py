"""``make run``: a local agent in ./var/agent, and the desktop beside it when there is a screen.

The agent keeps its data between runs; its pairing string is printed for the desktop. Without a
display (or with ``--agent-only``) the agent runs until Ctrl-C.
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
    print(f"pairing string: {agent.pairing}")
    has_screen = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    try:
        if has_screen and not args.agent_only:
            return subprocess.call([sys.executable, "-m", "desktop.app"])
        print("no display: the agent runs until Ctrl-C")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while True:
            signal.pause()
    except KeyboardInterrupt:
        return 0
    finally:
        agent.stop()


if __name__ == "__main__":
    sys.exit(main())
