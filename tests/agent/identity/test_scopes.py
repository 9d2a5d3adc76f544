"""Scopes: what each allows, and the scope a refusal names."""

from __future__ import annotations

import pytest

from mailfleet.agent.identity import scopes
from mailfleet.agent.identity.scopes import Need, Scope


def test_admin_allows_everything_and_tenant_everything_but_admin() -> None:
    assert all(scopes.allows(Scope.ADMIN, need) for need in Need)
    assert [n for n in Need if not scopes.allows(Scope.TENANT, n)] == [Need.ADMIN]


def test_narrow_scopes_stay_narrow() -> None:
    assert {n for n in Need if scopes.allows(Scope.SEND, n)} == {Need.INFO, Need.SEND}
    assert not scopes.allows(Scope.READ, Need.SEND)
    assert not scopes.allows(Scope.READ, Need.CAMPAIGNS)
    assert not scopes.allows(Scope.AUDIENCE, Need.READ)
    assert scopes.allows(Scope.AUDIENCE, Need.AUDIENCE_WRITE)
    # a marketer's key: campaigns and adding suppressions, never removing them
    assert scopes.allows(Scope.CAMPAIGNS, Need.SUPPRESS)
    assert not scopes.allows(Scope.CAMPAIGNS, Need.MANAGE)


def test_a_refusal_names_the_narrowest_scope_that_would_do() -> None:
    assert scopes.narrowest_for(Need.SEND) is Scope.SEND
    assert scopes.narrowest_for(Need.READ) is Scope.READ
    assert scopes.narrowest_for(Need.AUDIENCE_WRITE) is Scope.AUDIENCE
    assert scopes.narrowest_for(Need.CAMPAIGNS) is Scope.CAMPAIGNS
    assert scopes.narrowest_for(Need.MANAGE) is Scope.TENANT
    assert scopes.narrowest_for(Need.ADMIN) is Scope.ADMIN


def test_scope_names_parse_and_unknown_ones_are_listed() -> None:
    assert scopes.parse(" Send ") is Scope.SEND
    with pytest.raises(ValueError, match="choose one of admin, tenant, campaigns"):
        scopes.parse("superuser")
