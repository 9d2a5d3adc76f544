"""Who may talk to the agent: its TLS certificate, API keys, the pairing string, and the
SMTP intake's login rules and password hashes."""
