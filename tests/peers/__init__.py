"""Real processes the tests talk to over loopback."""
