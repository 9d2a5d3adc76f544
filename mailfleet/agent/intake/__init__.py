"""The SMTP intake: listeners, sessions, AUTH, limits and durable queueing of submissions."""
