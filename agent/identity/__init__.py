"""The agent's identity: its TLS certificate, API keys and the pairing string."""
