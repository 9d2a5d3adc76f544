"""Routing policy: which route each message takes — the rules in force, failover, weighted
splits, and when a campaign will finish."""
