"""Tests of the link to the agents (mailfleet/desktop/agents), against real agents on loopback."""
