"""Runnable scripts that automate an agent with ``mailfleet.agent.client`` (see README.md here)."""
