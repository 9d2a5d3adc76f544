"""Pairing agents: the pinned fingerprint, the API key in the OS keyring, live status."""

from __future__ import annotations

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail, null
from sqlalchemy import Engine, select, update

from mailfleet.agent.client import FingerprintMismatch
from mailfleet.desktop.agents import registry
from mailfleet.desktop.db.models import Agent
from mailfleet.desktop.services import secrets
from mailfleet.desktop.services.workspaces import ensure_workspace
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess


def test_pairing_keeps_the_key_in_the_keyring_and_pins_the_certificate(
    engine: Engine, shared_agent: AgentProcess, secure_keyring: FileKeyring
) -> None:
    with engine.begin() as conn:
        ws = ensure_workspace(conn, "Pairing")
    record = registry.pair(engine, ws, str(shared_agent.pairing), "Paris")
    assert record.fingerprint == shared_agent.pairing.fingerprint
    assert secure_keyring.get_password(secrets.SERVICE, record.key_ref) == (
        shared_agent.pairing.api_key
    )
    with engine.connect() as conn:
        row = conn.execute(select(Agent.__table__)).one()._mapping
    assert shared_agent.pairing.api_key not in repr(dict(row))
    status = registry.status(record)
    assert status.reachable and status.health == "serving" and status.version

    with pytest.raises(registry.AgentError, match="already paired as 'Paris'"):
        registry.pair(engine, ws, str(shared_agent.pairing), "Again")


def test_a_wrong_fingerprint_is_refused_and_nothing_is_stored(
    sqlite_engine: Engine, shared_agent: AgentProcess, secure_keyring: FileKeyring
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    real = shared_agent.pairing
    forged = str(real).replace(real.fingerprint, "0" * 64)
    with pytest.raises(FingerprintMismatch, match="refusing to connect"):
        registry.pair(sqlite_engine, ws, forged, "Forged")
    with sqlite_engine.connect() as conn:
        assert registry.list_agents(conn, ws) == []
    assert not secure_keyring.path.exists() or "mailfleet" not in secure_keyring.path.read_text()


def test_a_certificate_changed_after_pairing_blocks_the_agent(
    sqlite_engine: Engine, shared_agent: AgentProcess, secure_keyring: FileKeyring
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    record = registry.pair(sqlite_engine, ws, str(shared_agent.pairing), "Paris")
    with sqlite_engine.begin() as conn:
        conn.execute(update(Agent).values(fingerprint="1" * 64))
        changed = registry.get_agent(conn, ws, record.id)
    status = registry.status(changed)
    assert status.blocked and not status.reachable
    assert "refusing to connect" in status.error


def test_bad_pairing_strings_and_keys_are_explained(
    sqlite_engine: Engine, shared_agent: AgentProcess, secure_keyring: FileKeyring
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    with pytest.raises(registry.AgentError, match="not a valid pairing string"):
        registry.pair(sqlite_engine, ws, "https://example.com")
    wrong_key = str(shared_agent.pairing).replace(shared_agent.pairing.api_key, "mf_nope")
    with pytest.raises(registry.AgentError, match="refused the API key"):
        registry.pair(sqlite_engine, ws, wrong_key)


class PlaintextKeyring(KeyringBackend):
    """Shaped like keyrings.alt's clear-text file backend, which must be refused."""

    priority = 0.5

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise AssertionError("a key was written to a clear-text keyring")

    def delete_password(self, service: str, username: str) -> None:
        return None


@pytest.mark.parametrize("backend", [fail.Keyring, null.Keyring, PlaintextKeyring])
def test_an_insecure_keyring_is_refused_with_a_way_out(
    sqlite_engine: Engine, shared_agent: AgentProcess, backend: type[KeyringBackend]
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    before = keyring.get_keyring()
    keyring.set_keyring(backend())
    try:
        with pytest.raises(secrets.KeyringUnavailable, match="Secret Service"):
            registry.pair(sqlite_engine, ws, str(shared_agent.pairing), "Paris")
    finally:
        keyring.set_keyring(before)
    with sqlite_engine.connect() as conn:
        assert registry.list_agents(conn, ws) == []
