"""The one table of what every RPC needs from the calling key.

The interceptor looks every call up here; a method missing from the table is refused (a test,
``tests/agent/api/test_rpc_rules.py``, names any RPC of any service that is missing, so a new
RPC cannot be forgotten). Health and reflection are open to stock tools and are not listed.
"""

from __future__ import annotations

from mailfleet.agent.identity.scopes import Need

_BY_SERVICE: dict[str, dict[str, Need]] = {
    "AgentInfo": {"GetInfo": Need.INFO},
    "Admin": {
        "CreateTenant": Need.ADMIN,
        "ListTenants": Need.ADMIN,
        "CreateApiKey": Need.ADMIN,
        "ListApiKeys": Need.ADMIN,
        "RevokeApiKey": Need.ADMIN,
    },
    "Automations": {
        "PutAutomation": Need.AUDIENCE_WRITE,
        "ListAutomations": Need.AUDIENCE_READ,
        "ActivateAutomation": Need.AUDIENCE_WRITE,
        "PauseAutomation": Need.AUDIENCE_WRITE,
        # An app's event, like a signup over the API: what the audience scope is for.
        "SendEvent": Need.AUDIENCE_WRITE,
        "PutContact": Need.AUDIENCE_WRITE,
        "GetStepStats": Need.AUDIENCE_READ,
    },
    "Campaigns": {
        "CreateCampaign": Need.CAMPAIGNS,
        "UploadRecipients": Need.CAMPAIGNS,
        "StartCampaign": Need.CAMPAIGNS,
        "PauseCampaign": Need.CAMPAIGNS,
        "ResumeCampaign": Need.CAMPAIGNS,
        "CancelCampaign": Need.CAMPAIGNS,
        "GetCampaign": Need.READ,
        "ListCampaigns": Need.READ,
        "WatchCampaign": Need.READ,
        "GetAbTest": Need.READ,
        "PickAbWinner": Need.CAMPAIGNS,
    },
    "Capture": {"ListCaptured": Need.READ, "GetCaptured": Need.READ},
    "Events": {
        "ListEvents": Need.READ,
        "WatchEvents": Need.READ,
        "WatchEventBatches": Need.READ,
    },
    "Messages": {"GetMessage": Need.READ, "ListMessages": Need.READ},
    "Queue": {
        "ListQueue": Need.READ,
        "SummarizeQueue": Need.READ,
        "RetryQueued": Need.MANAGE,
        "DeleteQueued": Need.MANAGE,
        "BounceQueued": Need.MANAGE,
        "Suspend": Need.MANAGE,
        "Resume": Need.MANAGE,
        "ListSuspensions": Need.READ,
    },
    "Routing": {
        "ListRoutes": Need.ADMIN,
        "GetRules": Need.ADMIN,
        "SetRules": Need.ADMIN,
        "ExplainRoute": Need.ADMIN,
        "EstimateFinish": Need.READ,
    },
    "SendingDomains": {
        "GenerateDkimKey": Need.ADMIN,
        "GetDnsRecords": Need.ADMIN,
        "CheckDns": Need.ADMIN,
    },
    "Signups": {
        "PutForm": Need.AUDIENCE_WRITE,
        "ListForms": Need.AUDIENCE_READ,
        "GetFormSnippet": Need.AUDIENCE_READ,
        "Subscribe": Need.AUDIENCE_WRITE,
        "ListSignupChanges": Need.AUDIENCE_READ,
    },
    "Audience": {
        "Subscribe": Need.AUDIENCE_WRITE,
        "UpdateContact": Need.AUDIENCE_WRITE,
        "Unsubscribe": Need.AUDIENCE_WRITE,
        "GetContact": Need.AUDIENCE_READ,
    },
    "SmtpUsers": {
        "CreateSmtpUser": Need.MANAGE,
        "ListSmtpUsers": Need.READ,
        "RevokeSmtpUser": Need.MANAGE,
        "AddSendingDomain": Need.MANAGE,
        "RemoveSendingDomain": Need.MANAGE,
        "ListSendingDomains": Need.READ,
    },
    "Suppression": {
        "AddSuppressions": Need.SUPPRESS,
        "RemoveSuppressions": Need.MANAGE,
        "CheckSuppressions": Need.READ,
        "ListSuppressions": Need.READ,
        "ImportSuppressions": Need.SUPPRESS,
        "ExportSuppressions": Need.READ,
        "GetFeedbackStats": Need.READ,
    },
    "Transactional": {"SendMessage": Need.SEND, "SendBatch": Need.SEND},
    "Webhooks": {
        "CreateWebhook": Need.MANAGE,
        "ListWebhooks": Need.READ,
        "UpdateWebhook": Need.MANAGE,
        "DeleteWebhook": Need.MANAGE,
        "TestWebhook": Need.MANAGE,
    },
}

# Keyed by the full method name gRPC hands the interceptor: "/mailfleet.v1.Campaigns/GetCampaign".
RULES: dict[str, Need] = {
    f"/mailfleet.v1.{service}/{rpc}": need
    for service, rpcs in _BY_SERVICE.items()
    for rpc, need in rpcs.items()
}


def need_of(method: str) -> Need | None:
    """What ``method`` (a full gRPC method name) needs; None for a method not in the table."""
    return RULES.get(method)


def short_name(method: str) -> str:
    """The RPC's own name from a full method name ("/mailfleet.v1.Campaigns/X" -> "X")."""
    return method.rsplit("/", 1)[-1]
