"""The ``[grpc]`` settings: the API's listener and its size limits; and the settings the API
reads from the rest of the agent's (:class:`ApiInputs`)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field, field_validator

from mailfleet.agent.eventhooks.settings import WebhookSettings
from mailfleet.agent.feedback.settings import FeedbackSettings
from mailfleet.agent.routing.settings import RoutingInputs
from mailfleet.agent.signup.settings import SignupSettings
from mailfleet.agent.validation import split_host_port
from mailfleet.agent.web.settings import HttpSettings


class GrpcSettings(BaseModel):
    """The gRPC API listener."""

    listen: str = "127.0.0.1:8470"
    max_receive_mib: int = Field(32, ge=1, le=1024)
    max_send_mib: int = Field(64, ge=1, le=1024)

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        split_host_port(value)
        return value


class ApiInputs(RoutingInputs, Protocol):
    """The settings the gRPC server and its services read;
    :class:`mailfleet.agent.config.AgentSettings` has them all."""

    @property
    def grpc(self) -> GrpcSettings: ...

    @property
    def tls_key(self) -> Path: ...

    @property
    def tls_cert(self) -> Path: ...

    @property
    def dkim_dir(self) -> Path: ...

    @property
    def feedback(self) -> FeedbackSettings: ...

    @property
    def webhooks(self) -> WebhookSettings: ...

    @property
    def http(self) -> HttpSettings: ...

    @property
    def signup(self) -> SignupSettings: ...

    @property
    def feedback_key_file(self) -> Path: ...
