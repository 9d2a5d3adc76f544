"""The one table of what every RPC needs from the calling key, and whether it is audited.

The interceptor looks every call up here; a method missing from the table is refused (a test,
``tests/agent/api/test_rpc_rules.py``, names any RPC of any service that is missing, so a new
RPC cannot be forgotten). Health and reflection are open to stock tools and are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from mailfleet.agent.identity.scopes import Need


class Audit(Enum):
    """What the audit log keeps of a call (mailfleet.agent.api.audit)."""

    # Nothing: the call changes nothing.
    NONE = "none"
    # One entry per call.
    EACH = "each"
    # One summary per key, peer and minute (transactional sends).
    SUMMED = "summed"


@dataclass(frozen=True)
class Rule:
    """What a call needs from its key, and what the audit log keeps of it."""

    need: Need
    audit: Audit


def read(need: Need) -> Rule:
    """A call that changes nothing."""
    return Rule(need, Audit.NONE)


def change(need: Need) -> Rule:
    """A call that changes state: audited one by one."""
    return Rule(need, Audit.EACH)


def sends(need: Need) -> Rule:
    """A transactional send: audited as a summary."""
    return Rule(need, Audit.SUMMED)


_BY_SERVICE: dict[str, dict[str, Rule]] = {
    "AgentInfo": {"GetInfo": read(Need.INFO)},
    "Admin": {
        "CreateTenant": change(Need.ADMIN),
        "ListTenants": read(Need.ADMIN),
        "CreateApiKey": change(Need.ADMIN),
        "ListApiKeys": read(Need.ADMIN),
        "RevokeApiKey": change(Need.ADMIN),
        "ListAuditEntries": read(Need.ADMIN),
    },
    "Automations": {
        "PutAutomation": change(Need.AUDIENCE_WRITE),
        "ListAutomations": read(Need.AUDIENCE_READ),
        "ActivateAutomation": change(Need.AUDIENCE_WRITE),
        "PauseAutomation": change(Need.AUDIENCE_WRITE),
        # An app's event, like a signup over the API: what the audience scope is for.
        "SendEvent": change(Need.AUDIENCE_WRITE),
        "PutContact": change(Need.AUDIENCE_WRITE),
        "GetStepStats": read(Need.AUDIENCE_READ),
    },
    "Campaigns": {
        "CreateCampaign": change(Need.CAMPAIGNS),
        "UploadRecipients": change(Need.CAMPAIGNS),
        "StartCampaign": change(Need.CAMPAIGNS),
        "PauseCampaign": change(Need.CAMPAIGNS),
        "ResumeCampaign": change(Need.CAMPAIGNS),
        "CancelCampaign": change(Need.CAMPAIGNS),
        "GetCampaign": read(Need.READ),
        "ListCampaigns": read(Need.READ),
        "WatchCampaign": read(Need.READ),
        "GetAbTest": read(Need.READ),
        "PickAbWinner": change(Need.CAMPAIGNS),
    },
    "Capture": {"ListCaptured": read(Need.READ), "GetCaptured": read(Need.READ)},
    "Events": {
        "ListEvents": read(Need.READ),
        "WatchEvents": read(Need.READ),
        "WatchEventBatches": read(Need.READ),
    },
    "Messages": {"GetMessage": read(Need.READ), "ListMessages": read(Need.READ)},
    "Queue": {
        "ListQueue": read(Need.READ),
        "SummarizeQueue": read(Need.READ),
        "RetryQueued": change(Need.MANAGE),
        "DeleteQueued": change(Need.MANAGE),
        "BounceQueued": change(Need.MANAGE),
        "Suspend": change(Need.MANAGE),
        "Resume": change(Need.MANAGE),
        "ListSuspensions": read(Need.READ),
    },
    "Routing": {
        "ListRoutes": read(Need.ADMIN),
        "GetRules": read(Need.ADMIN),
        "SetRules": change(Need.ADMIN),
        "ExplainRoute": read(Need.ADMIN),
        "EstimateFinish": read(Need.READ),
    },
    "SendingDomains": {
        "GenerateDkimKey": change(Need.ADMIN),
        "GetDnsRecords": read(Need.ADMIN),
        "CheckDns": read(Need.ADMIN),
    },
    "Media": {
        "PutMedia": change(Need.CAMPAIGNS),
        "FindMedia": read(Need.READ),
    },
    "Signups": {
        "PutForm": change(Need.AUDIENCE_WRITE),
        "DeleteForm": change(Need.AUDIENCE_WRITE),
        "SetBranding": change(Need.AUDIENCE_WRITE),
        "ListForms": read(Need.AUDIENCE_READ),
        "GetFormSnippet": read(Need.AUDIENCE_READ),
        "Subscribe": change(Need.AUDIENCE_WRITE),
        "ListSignupChanges": read(Need.AUDIENCE_READ),
    },
    "Audience": {
        "Subscribe": change(Need.AUDIENCE_WRITE),
        "UpdateContact": change(Need.AUDIENCE_WRITE),
        "Unsubscribe": change(Need.AUDIENCE_WRITE),
        "GetContact": read(Need.AUDIENCE_READ),
    },
    "SmtpUsers": {
        "CreateSmtpUser": change(Need.MANAGE),
        "ListSmtpUsers": read(Need.READ),
        "RevokeSmtpUser": change(Need.MANAGE),
        "AddSendingDomain": change(Need.MANAGE),
        "RemoveSendingDomain": change(Need.MANAGE),
        "ListSendingDomains": read(Need.READ),
    },
    "Suppression": {
        "AddSuppressions": change(Need.SUPPRESS),
        "RemoveSuppressions": change(Need.MANAGE),
        "CheckSuppressions": read(Need.READ),
        "ListSuppressions": read(Need.READ),
        "ImportSuppressions": change(Need.SUPPRESS),
        "ExportSuppressions": read(Need.READ),
        "GetFeedbackStats": read(Need.READ),
    },
    "Transactional": {"SendMessage": sends(Need.SEND), "SendBatch": sends(Need.SEND)},
    "Webhooks": {
        "CreateWebhook": change(Need.MANAGE),
        "ListWebhooks": read(Need.READ),
        "UpdateWebhook": change(Need.MANAGE),
        "DeleteWebhook": change(Need.MANAGE),
        "TestWebhook": change(Need.MANAGE),
    },
}

# Keyed by the full method name gRPC hands the interceptor: "/mailfleet.v1.Campaigns/GetCampaign".
RULES: dict[str, Rule] = {
    f"/mailfleet.v1.{service}/{rpc}": rule
    for service, rpcs in _BY_SERVICE.items()
    for rpc, rule in rpcs.items()
}


def rule_of(method: str) -> Rule | None:
    """What ``method`` (a full gRPC method name) needs; None for a method not in the table."""
    return RULES.get(method)


def short_name(method: str) -> str:
    """The RPC's own name from a full method name ("/mailfleet.v1.Campaigns/X" -> "X")."""
    return method.rsplit("/", 1)[-1]
