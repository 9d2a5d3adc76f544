"""The gRPC server: TLS only, every service, health and reflection, explicit size limits."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import grpc
from grpc_health.v1 import health_pb2

from mailfleet.agent.api.audit import AuditLog
from mailfleet.agent.api.auth import AuthInterceptor, KeyRing
from mailfleet.agent.api.call_metrics import MetricsInterceptor
from mailfleet.agent.api.dkim_state import DkimState
from mailfleet.agent.api.health import ServingHealth
from mailfleet.agent.api.reflection import enable_reflection
from mailfleet.agent.api.services.admin import AdminService
from mailfleet.agent.api.services.audience import AudienceService
from mailfleet.agent.api.services.automations import AutomationsService
from mailfleet.agent.api.services.campaigns import CampaignsService
from mailfleet.agent.api.services.capture import CaptureService
from mailfleet.agent.api.services.events import EventsService
from mailfleet.agent.api.services.info import AgentInfoService
from mailfleet.agent.api.services.media import MediaService
from mailfleet.agent.api.services.messages import MessagesService
from mailfleet.agent.api.services.queue import QueueService
from mailfleet.agent.api.services.routing import RoutingService
from mailfleet.agent.api.services.sending_domains import SendingDomainsService
from mailfleet.agent.api.services.signups import SignupsService
from mailfleet.agent.api.services.smtp_users import SmtpUsersService
from mailfleet.agent.api.services.suppression import SuppressionService
from mailfleet.agent.api.services.transactional import TransactionalService
from mailfleet.agent.api.services.webhooks import WebhooksService
from mailfleet.agent.api.settings import ApiInputs
from mailfleet.agent.api.subscribe import SignupDesk
from mailfleet.agent.delivery.suspended import Suspended
from mailfleet.agent.errors import ConfigError, bind_failure
from mailfleet.agent.feedback.tokens import TokenKey
from mailfleet.agent.routes.smtp.identity import blocking_resolver, sending_identity
from mailfleet.agent.routing.table import RoutingState
from mailfleet.agent.store.handle import Store
from mailfleet.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    agent_pb2,
    agent_pb2_grpc,
    audience_pb2,
    audience_pb2_grpc,
    automations_pb2,
    automations_pb2_grpc,
    campaigns_pb2,
    campaigns_pb2_grpc,
    capture_pb2,
    capture_pb2_grpc,
    events_pb2,
    events_pb2_grpc,
    media_pb2,
    media_pb2_grpc,
    messages_pb2,
    messages_pb2_grpc,
    queue_pb2,
    queue_pb2_grpc,
    routing_pb2,
    routing_pb2_grpc,
    sending_domains_pb2,
    sending_domains_pb2_grpc,
    signups_pb2,
    signups_pb2_grpc,
    smtp_users_pb2,
    smtp_users_pb2_grpc,
    suppression_pb2,
    suppression_pb2_grpc,
    transactional_pb2,
    transactional_pb2_grpc,
    webhooks_pb2,
    webhooks_pb2_grpc,
)

_MIB = 1024 * 1024


def build_server(
    settings: ApiInputs,
    store: Store,
    agent_id: str,
    started_at: float,
    routing: RoutingState | None = None,
    keys_changed: Callable[[], Awaitable[None]] | None = None,
    suspended: Suspended | None = None,
) -> tuple[grpc.aio.Server, ServingHealth, AuditLog]:
    """Create the server with every service registered and its TLS port bound (``routing``:
    the rules the scheduler uses, shared so that edits reach it; ``keys_changed``: makes the
    workers load the DKIM keys again after the API made one; ``suspended``: the suspensions the
    scheduler holds mail back by, shared so that the Queue service's changes reach it). The
    audit log it returns holds summaries in memory: close it after the server stops."""
    ring = KeyRing(store)
    audit = AuditLog(store)
    server = grpc.aio.server(
        interceptors=[MetricsInterceptor(), AuthInterceptor(ring, audit)],
        options=[
            ("grpc.max_receive_message_length", settings.grpc.max_receive_mib * _MIB),
            ("grpc.max_send_message_length", settings.grpc.max_send_mib * _MIB),
            ("grpc.so_reuseport", 0),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ],
    )
    agent_pb2_grpc.add_AgentInfoServicer_to_server(
        AgentInfoService(store, agent_id, started_at), server
    )
    admin_pb2_grpc.add_AdminServicer_to_server(AdminService(store, ring), server)
    campaigns_pb2_grpc.add_CampaignsServicer_to_server(CampaignsService(store), server)
    messages_pb2_grpc.add_MessagesServicer_to_server(MessagesService(store), server)
    transactional_pb2_grpc.add_TransactionalServicer_to_server(TransactionalService(store), server)
    events_pb2_grpc.add_EventsServicer_to_server(EventsService(store), server)
    capture_pb2_grpc.add_CaptureServicer_to_server(CaptureService(store), server)
    state = routing or RoutingState(settings)
    routing_pb2_grpc.add_RoutingServicer_to_server(
        RoutingService(state, store, settings.data_dir), server
    )
    dkim = DkimState(settings.dkim_dir)
    smtp_users_pb2_grpc.add_SmtpUsersServicer_to_server(SmtpUsersService(store, dkim), server)
    addresses, helo = sending_identity(settings.routes, settings.delivery.hostname)
    resolvers = list(settings.routing.resolvers)
    sending_domains_pb2_grpc.add_SendingDomainsServicer_to_server(
        SendingDomainsService(
            store,
            dkim,
            addresses=addresses,
            helo=helo or socket.getfqdn(),
            resolver=lambda: blocking_resolver(resolvers),
            keys_changed=keys_changed,
        ),
        server,
    )
    suppression_pb2_grpc.add_SuppressionServicer_to_server(
        SuppressionService(store, settings.feedback), server
    )
    webhooks_pb2_grpc.add_WebhooksServicer_to_server(
        WebhooksService(store, settings.webhooks, agent_id), server
    )
    desk = SignupDesk(
        store,
        settings.http.base_url,
        TokenKey.load_or_create(settings.feedback_key_file),
        settings.signup,
    )
    signups_pb2_grpc.add_SignupsServicer_to_server(SignupsService(desk), server)
    audience_pb2_grpc.add_AudienceServicer_to_server(AudienceService(desk), server)
    automations_pb2_grpc.add_AutomationsServicer_to_server(AutomationsService(store), server)
    media_pb2_grpc.add_MediaServicer_to_server(
        MediaService(store, settings.http.base_url), server
    )
    queue_pb2_grpc.add_QueueServicer_to_server(
        QueueService(store, suspended or Suspended(), lambda: state.routes), server
    )

    service_names = [
        d.services_by_name[name].full_name
        for d, name in (
            (agent_pb2.DESCRIPTOR, "AgentInfo"),
            (admin_pb2.DESCRIPTOR, "Admin"),
            (campaigns_pb2.DESCRIPTOR, "Campaigns"),
            (messages_pb2.DESCRIPTOR, "Messages"),
            (transactional_pb2.DESCRIPTOR, "Transactional"),
            (events_pb2.DESCRIPTOR, "Events"),
            (capture_pb2.DESCRIPTOR, "Capture"),
            (routing_pb2.DESCRIPTOR, "Routing"),
            (smtp_users_pb2.DESCRIPTOR, "SmtpUsers"),
            (sending_domains_pb2.DESCRIPTOR, "SendingDomains"),
            (suppression_pb2.DESCRIPTOR, "Suppression"),
            (webhooks_pb2.DESCRIPTOR, "Webhooks"),
            (signups_pb2.DESCRIPTOR, "Signups"),
            (audience_pb2.DESCRIPTOR, "Audience"),
            (queue_pb2.DESCRIPTOR, "Queue"),
            (automations_pb2.DESCRIPTOR, "Automations"),
            (media_pb2.DESCRIPTOR, "Media"),
        )
    ]
    health = ServingHealth(service_names, server)
    enable_reflection(
        [*service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name], server
    )
    credentials = grpc.ssl_server_credentials(
        [(settings.tls_key.read_bytes(), settings.tls_cert.read_bytes())]
    )
    problem = bind_failure(settings.grpc.listen)
    if not problem:
        try:
            server.add_secure_port(settings.grpc.listen, credentials)
        except RuntimeError:  # taken in between: gRPC names the address but not why
            problem = "the address cannot be bound"
    if problem:
        raise ConfigError(f"cannot listen for gRPC on {settings.grpc.listen}: {problem}")
    return server, health, audit
