"""Tests of the link to the agents (desktop/agents), against real agents on loopback."""
