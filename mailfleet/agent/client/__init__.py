"""The one way to reach an agent: for the desktop, scripts, benchmarks and tests alike.

* :mod:`~mailfleet.agent.client.channel` — a channel pinned to the agent's certificate fingerprint;
* :mod:`~mailfleet.agent.client.stubs` — the stub of every service of the contract, on one channel;
* :mod:`~mailfleet.agent.client.agent_client` — :class:`AgentClient`, the typed client for scripts;
* :mod:`~mailfleet.agent.client.localagent` — starting an agent process on this machine;
* :mod:`~mailfleet.agent.client.preview` — rendering a template as the agents' workers will.

The pairing string's format is the agent's (``mailfleet.agent.identity.pairing`` writes it when an
agent is set up); it is re-exported here for the clients that read it. The launcher and the preview
pull in much of the agent, so they are imported from their modules, not from here.
"""

from mailfleet.agent.client.agent_client import AgentClient, Upload
from mailfleet.agent.client.channel import (
    FingerprintMismatch,
    aio_channel,
    channel,
    fetch_pinned_certificate,
)
from mailfleet.agent.client.stubs import AgentStubs
from mailfleet.agent.identity.pairing import Pairing, PairingError
from mailfleet.agent.identity.pairing import parse as parse_pairing

__all__ = [
    "AgentClient",
    "AgentStubs",
    "FingerprintMismatch",
    "Pairing",
    "PairingError",
    "Upload",
    "aio_channel",
    "channel",
    "fetch_pinned_certificate",
    "parse_pairing",
]
