"""Audience growth on the agent: hosted signup forms, double opt-in and consent records."""
