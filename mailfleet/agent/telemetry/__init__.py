"""What the agent tells the people who watch it: Prometheus metrics and one log line per
settled delivery attempt, fed by every part."""
