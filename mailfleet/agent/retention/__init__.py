"""Retention: pruning what the agent no longer needs to deliver (old messages, events,
captured mail), in small batches beside delivery."""
