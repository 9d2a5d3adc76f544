"""Operating the agent: metrics, retention, backups, DNS checks, reloads and status."""
