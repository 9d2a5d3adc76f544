"""The feedback loop: suppression, bounce classification, unsubscribe, tracking and the
processing of bounces and complaints that come back to the agent."""
