"""Outbound event webhooks: the tenants' HTTPS endpoints that receive the events log, signed
and batched, from a cursor per endpoint in the store."""
