"""What an API key may do: its scope, and the kinds of call ("needs") each scope allows.

Every RPC names the one need it has (``mailfleet.agent.api.rpc_rules``); a scope is the set of
needs it meets. Scopes are nested only where a person would expect it: a read-only key cannot
send, a send-only key cannot read.
"""

from __future__ import annotations

from enum import StrEnum


class Need(StrEnum):
    """The kind of thing a call does, which decides the scopes that may make it."""

    # Who am I: every key may ask (GetInfo).
    INFO = "info"
    # Reading the tenant's campaigns, messages, events, queue, suppressions, settings.
    READ = "read"
    # Reading signup forms and their signups (and the audience they feed).
    AUDIENCE_READ = "audience-read"
    # Changing signup forms, taking signups over the API, the audience API's changes.
    AUDIENCE_WRITE = "audience-write"
    # Adding to the suppression list (never removing from it).
    SUPPRESS = "suppress"
    # Sending transactional messages.
    SEND = "send"
    # Creating, filling, starting, pausing and cancelling campaigns.
    CAMPAIGNS = "campaigns"
    # The tenant's own set-up: webhooks, SMTP logins, queue actions, suppression removal.
    MANAGE = "manage"
    # The agent itself: tenants, keys, routing rules, DKIM keys, other tenants' data.
    ADMIN = "admin"


class Scope(StrEnum):
    """A key's scope, as stored and as the CLI names it."""

    # Everything, for every tenant (the first key `init` makes is one).
    ADMIN = "admin"
    # Everything within its tenant but the agent's own set-up: what every non-admin key could
    # do before keys had scopes.
    TENANT = "tenant"
    # Campaigns, the audience, adding suppressions, test sends, and reading.
    CAMPAIGNS = "campaigns"
    # Transactional sends only (an application's key).
    SEND = "send"
    # Reading only.
    READ = "read"
    # Signup forms, signups and the audience API only (a website's key).
    AUDIENCE = "audience"


_AUDIENCE = {Need.INFO, Need.AUDIENCE_READ, Need.AUDIENCE_WRITE}
_READ = {Need.INFO, Need.READ, Need.AUDIENCE_READ}
_CAMPAIGNS = _READ | _AUDIENCE | {Need.SUPPRESS, Need.SEND, Need.CAMPAIGNS}
_TENANT = _CAMPAIGNS | {Need.MANAGE}

GRANTS: dict[Scope, frozenset[Need]] = {
    Scope.ADMIN: frozenset(Need),
    Scope.TENANT: frozenset(_TENANT),
    Scope.CAMPAIGNS: frozenset(_CAMPAIGNS),
    Scope.SEND: frozenset({Need.INFO, Need.SEND}),
    Scope.READ: frozenset(_READ),
    Scope.AUDIENCE: frozenset(_AUDIENCE),
}

# Narrowest first: the scope an error message suggests for a need is the first that meets it.
_NARROWEST_FIRST = (
    Scope.SEND,
    Scope.READ,
    Scope.AUDIENCE,
    Scope.CAMPAIGNS,
    Scope.TENANT,
    Scope.ADMIN,
)


def allows(scope: Scope, need: Need) -> bool:
    """Whether a key of ``scope`` may make a call that has ``need``."""
    return need in GRANTS[scope]


def narrowest_for(need: Need) -> Scope:
    """The narrowest scope that meets ``need``, to name in a refusal."""
    return next(s for s in _NARROWEST_FIRST if need in GRANTS[s])


def parse(text: str) -> Scope:
    """The scope named ``text`` (as the CLI and the store spell it); ValueError if none."""
    try:
        return Scope(text.strip().lower())
    except ValueError:
        names = ", ".join(s.value for s in Scope)
        raise ValueError(f"unknown scope {text!r}; choose one of {names}") from None
