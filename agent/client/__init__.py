"""The one way to reach an agent: for the desktop, scripts, benchmarks and tests alike.

* :mod:`~agent.client.channel` — a channel pinned to the agent's certificate fingerprint;
* :mod:`~agent.client.stubs` — the stub of every service of the contract, on one channel;
* :mod:`~agent.client.agent_client` — :class:`AgentClient`, the typed client for scripts;
* :mod:`~agent.client.localagent` — starting an agent process on this machine;
* :mod:`~agent.client.preview` — rendering a template as the agents' workers will.

The pairing string's format is the agent's (``agent.identity.pairing`` writes it when an agent
is set up); it is re-exported here for the clients that read it. The launcher and the preview
pull in much of the agent, so they are imported from their modules, not from here.
"""

from agent.client.agent_client import AgentClient, Upload
from agent.client.channel import FingerprintMismatch, aio_channel, channel, fetch_pinned_certificate
from agent.client.stubs import AgentStubs
from agent.identity.pairing import Pairing, PairingError
from agent.identity.pairing import parse as parse_pairing

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
