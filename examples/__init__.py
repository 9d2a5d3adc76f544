"""Runnable scripts that automate an agent with ``agent.client`` (see README.md here)."""
