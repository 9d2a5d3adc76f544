"""Routes that hand messages to an email service provider's HTTP API."""
