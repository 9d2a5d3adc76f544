"""The generated stub of every service of the contract, built in this one place."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2_grpc

from mailfleet.v1 import (
    admin_pb2_grpc,
    agent_pb2_grpc,
    audience_pb2_grpc,
    automations_pb2_grpc,
    campaigns_pb2_grpc,
    capture_pb2_grpc,
    events_pb2_grpc,
    media_pb2_grpc,
    messages_pb2_grpc,
    queue_pb2_grpc,
    routing_pb2_grpc,
    sending_domains_pb2_grpc,
    signups_pb2_grpc,
    smtp_users_pb2_grpc,
    suppression_pb2_grpc,
    transactional_pb2_grpc,
    webhooks_pb2_grpc,
)


@dataclass(frozen=True)
class AgentStubs:
    """The generated stub of every service of the contract, on one channel."""

    channel: grpc.Channel
    info: agent_pb2_grpc.AgentInfoStub
    admin: admin_pb2_grpc.AdminStub
    campaigns: campaigns_pb2_grpc.CampaignsStub
    messages: messages_pb2_grpc.MessagesStub
    transactional: transactional_pb2_grpc.TransactionalStub
    events: events_pb2_grpc.EventsStub
    capture: capture_pb2_grpc.CaptureStub
    routing: routing_pb2_grpc.RoutingStub
    smtp_users: smtp_users_pb2_grpc.SmtpUsersStub
    suppression: suppression_pb2_grpc.SuppressionStub
    sending_domains: sending_domains_pb2_grpc.SendingDomainsStub
    webhooks: webhooks_pb2_grpc.WebhooksStub
    signups: signups_pb2_grpc.SignupsStub
    queue: queue_pb2_grpc.QueueStub
    audience: audience_pb2_grpc.AudienceStub
    automations: automations_pb2_grpc.AutomationsStub
    media: media_pb2_grpc.MediaStub
    # The standard gRPC health service, which every agent serves beside the contract.
    health: health_pb2_grpc.HealthStub

    @classmethod
    def on(cls, channel: grpc.Channel) -> AgentStubs:
        """Stubs sharing ``channel``."""
        return cls(
            channel,
            agent_pb2_grpc.AgentInfoStub(channel),
            admin_pb2_grpc.AdminStub(channel),
            campaigns_pb2_grpc.CampaignsStub(channel),
            messages_pb2_grpc.MessagesStub(channel),
            transactional_pb2_grpc.TransactionalStub(channel),
            events_pb2_grpc.EventsStub(channel),
            capture_pb2_grpc.CaptureStub(channel),
            routing_pb2_grpc.RoutingStub(channel),
            smtp_users_pb2_grpc.SmtpUsersStub(channel),
            suppression_pb2_grpc.SuppressionStub(channel),
            sending_domains_pb2_grpc.SendingDomainsStub(channel),
            webhooks_pb2_grpc.WebhooksStub(channel),
            signups_pb2_grpc.SignupsStub(channel),
            queue_pb2_grpc.QueueStub(channel),
            audience_pb2_grpc.AudienceStub(channel),
            automations_pb2_grpc.AutomationsStub(channel),
            media_pb2_grpc.MediaStub(channel),
            health_pb2_grpc.HealthStub(channel),
        )
