"""Schema 15: the keys made before scopes keep what they could do (admin or tenant)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from mailfleet.agent.identity.scopes import Scope
from mailfleet.agent.store import tenants
from mailfleet.agent.store.db import connect
from mailfleet.agent.store.schema import MIGRATIONS, migrate


def test_admin_keys_become_admin_scope_and_the_others_tenant_scope(tmp_path: Path) -> None:
    with closing(connect(tmp_path / "agent.db")) as conn:
        assert migrate(conn, MIGRATIONS[:14]) == 14
        conn.execute("INSERT INTO tenants (id, name, created_at) VALUES (1, 'default', 0)")
        for key_id, admin in (("old-admin", 1), ("old-plain", 0)):
            conn.execute(
                "INSERT INTO api_keys (key_id, tenant_id, name, secret_hash, admin, created_at)"
                " VALUES (?, 1, ?, 'hash', ?, 0)",
                (key_id, key_id, admin),
            )
        assert migrate(conn) >= 15
        admin_key = tenants.find_key(conn, "old-admin")
        plain_key = tenants.find_key(conn, "old-plain")
    assert admin_key is not None and admin_key.scope is Scope.ADMIN and admin_key.admin
    assert plain_key is not None and plain_key.scope is Scope.TENANT and not plain_key.admin
    assert plain_key.expires_at is None and plain_key.secret_hash == "hash"
