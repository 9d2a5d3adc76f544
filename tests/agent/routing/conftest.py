"""The routing tests deliver through real routes into the route tests' SMTP sinks."""

from tests.agent.routes.conftest import make_sink

__all__ = ["make_sink"]
