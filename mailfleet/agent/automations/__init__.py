"""Automations the agent runs: definitions, the pure step engine, triggers and the runner."""
