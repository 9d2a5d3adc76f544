"""The Mailfleet sending agent: a coordinator process that owns the store and the APIs."""

__version__ = "0.1.0"
