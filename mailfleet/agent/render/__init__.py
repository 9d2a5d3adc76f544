"""Turning templates and merge fields into messages."""
