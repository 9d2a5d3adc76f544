"""The ``[grpc]`` settings: the API's listener and its size limits."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from agent.validation import split_host_port


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
