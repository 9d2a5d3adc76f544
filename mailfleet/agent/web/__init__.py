"""The agent's public HTTP server: unsubscribe, tracking, webhooks, metrics and health."""
