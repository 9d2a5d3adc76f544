"""SMTP users and sending domains: the SmtpUsers gRPC service and the command line."""

from __future__ import annotations

import smtplib
import sqlite3
import subprocess

import grpc
import pytest

from mailfleet.v1 import admin_pb2, smtp_users_pb2
from tests.agent.intake.peer import DOMAIN, IntakeAgent
from tests.peers.agent import agent_command


def _code(call: object) -> grpc.StatusCode:
    assert callable(call)
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value.code()


def _login(intake: IntakeAgent, user: str, password: str) -> int:
    with smtplib.SMTP("127.0.0.1", intake.ports.submission, timeout=20) as smtp:
        smtp.starttls(context=intake.client_context())
        try:
            return smtp.login(user, password)[0]
        except smtplib.SMTPAuthenticationError as exc:
            return exc.smtp_code


def test_create_list_revoke_over_grpc(intake: IntakeAgent) -> None:
    users = intake.stubs.smtp_users
    made = users.CreateSmtpUser(smtp_users_pb2.CreateSmtpUserRequest(username="grpc-app"))
    assert len(made.password) >= 32 and made.user.username == "grpc-app"
    chosen = users.CreateSmtpUser(
        smtp_users_pb2.CreateSmtpUserRequest(username="chosen", password="a long passphrase")
    )
    assert chosen.password == "a long passphrase"
    assert _login(intake, "chosen", "a long passphrase") == 235
    listed = {u.username for u in users.ListSmtpUsers(smtp_users_pb2.ListSmtpUsersRequest()).users}
    assert {"grpc-app", "chosen"} <= listed
    users.RevokeSmtpUser(smtp_users_pb2.RevokeSmtpUserRequest(username="chosen"))
    assert _login(intake, "chosen", "a long passphrase") == 535
    active = users.ListSmtpUsers(smtp_users_pb2.ListSmtpUsersRequest()).users
    assert "chosen" not in {u.username for u in active}
    every = users.ListSmtpUsers(smtp_users_pb2.ListSmtpUsersRequest(include_revoked=True)).users
    assert [u.HasField("revoked_at") for u in every if u.username == "chosen"] == [True]
    # the name is free again once revoked
    users.CreateSmtpUser(smtp_users_pb2.CreateSmtpUserRequest(username="chosen"))


def test_bad_requests_get_clear_errors(intake: IntakeAgent) -> None:
    users = intake.stubs.smtp_users
    users.CreateSmtpUser(smtp_users_pb2.CreateSmtpUserRequest(username="taken"))
    create = smtp_users_pb2.CreateSmtpUserRequest
    for request, code, field in (
        (create(username="taken"), "ALREADY_EXISTS", ""),
        (create(username="has space"), "INVALID_ARGUMENT", "username"),
        (create(username="short", password="x"), "INVALID_ARGUMENT", "password"),
    ):
        with pytest.raises(grpc.RpcError) as err:
            users.CreateSmtpUser(request)
        assert err.value.code().name == code
        assert (err.value.details() or "").startswith(field)
    assert (
        _code(lambda: users.RevokeSmtpUser(smtp_users_pb2.RevokeSmtpUserRequest(username="ghost")))
        == grpc.StatusCode.NOT_FOUND
    )
    bad_domain = smtp_users_pb2.SendingDomainRequest(domain="not a domain")
    assert _code(lambda: users.AddSendingDomain(bad_domain)) == grpc.StatusCode.INVALID_ARGUMENT
    unknown = smtp_users_pb2.SendingDomainRequest(domain="never-added.example")
    assert _code(lambda: users.RemoveSendingDomain(unknown)) == grpc.StatusCode.NOT_FOUND


def test_passwords_are_stored_only_as_scrypt_hashes(intake: IntakeAgent) -> None:
    password = intake.user("hashed-app")
    db = intake.process.data_dir / "agent.db"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    (stored,) = conn.execute(
        "SELECT password_hash FROM smtp_users WHERE username = 'hashed-app'"
    ).fetchone()
    conn.close()
    assert stored.startswith("scrypt$")
    for path in db.parent.glob("agent.db*"):
        assert password.encode() not in path.read_bytes()
    assert password not in intake.process.log()


def test_a_tenant_key_manages_only_its_own_tenant(intake: IntakeAgent) -> None:
    admin = intake.stubs.admin
    other = admin.CreateTenant(admin_pb2.CreateTenantRequest(name="other-shop"))
    key = admin.CreateApiKey(admin_pb2.CreateApiKeyRequest(tenant_id=other.id, name="app"))
    mine = intake.process.stubs(key.secret).smtp_users
    mine.AddSendingDomain(smtp_users_pb2.SendingDomainRequest(domain="Other-Shop.Example"))
    made = mine.CreateSmtpUser(smtp_users_pb2.CreateSmtpUserRequest(username="other-app"))
    assert made.user.tenant_id == other.id
    listed = mine.ListSendingDomains(smtp_users_pb2.ListSendingDomainsRequest()).domains
    assert list(listed) == ["other-shop.example"]
    assert {
        u.username for u in mine.ListSmtpUsers(smtp_users_pb2.ListSmtpUsersRequest()).users
    } == {"other-app"}
    default_tenant = smtp_users_pb2.ListSmtpUsersRequest(tenant_id=1)
    assert _code(lambda: mine.ListSmtpUsers(default_tenant)) == grpc.StatusCode.PERMISSION_DENIED
    # another tenant's login cannot be revoked by name from here
    revoke = smtp_users_pb2.RevokeSmtpUserRequest(username="grpc-app")
    assert _code(lambda: mine.RevokeSmtpUser(revoke)) == grpc.StatusCode.NOT_FOUND
    # the admin key sees every tenant's
    by_admin = intake.stubs.smtp_users.ListSmtpUsers(
        smtp_users_pb2.ListSmtpUsersRequest(tenant_id=other.id)
    )
    assert [u.username for u in by_admin.users] == ["other-app"]
    # and that login may send only as its own tenant's domains
    with smtplib.SMTP("127.0.0.1", intake.ports.submission, timeout=20) as smtp:
        smtp.starttls(context=intake.client_context())
        smtp.login("other-app", made.password)
        assert smtp.mail(f"app@{DOMAIN}")[0] == 553
        assert smtp.mail("app@other-shop.example")[0] == 250


def _cli(intake: IntakeAgent, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*agent_command(), *args, "--config", str(intake.process.config)],
        input=stdin, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_command_line_adds_lists_and_removes_logins(intake: IntakeAgent) -> None:
    added = _cli(intake, "smtp-user", "add", "cli-app")
    assert added.returncode == 0, added.stderr
    password = added.stdout.strip()
    assert _login(intake, "cli-app", password) == 235  # the running agent sees it at once
    listing = _cli(intake, "smtp-user", "list")
    assert any(line.split()[:2] == ["cli-app", "default"] for line in listing.stdout.splitlines())
    piped = _cli(
        intake, "smtp-user", "add", "cli-piped", "--password-stdin", stdin="a passphrase\n"
    )
    assert piped.returncode == 0 and piped.stdout == ""
    assert _login(intake, "cli-piped", "a passphrase") == 235
    assert _cli(intake, "smtp-user", "remove", "cli-app").returncode == 0
    assert _login(intake, "cli-app", password) == 535
    again = _cli(intake, "smtp-user", "remove", "cli-app")
    assert again.returncode == 1 and "no active SMTP user 'cli-app'" in again.stderr
    nowhere = _cli(intake, "smtp-user", "add", "x", "--tenant", "nowhere")
    assert nowhere.returncode == 1 and "no tenant named 'nowhere'" in nowhere.stderr


def test_the_command_line_manages_sending_domains(intake: IntakeAgent) -> None:
    added = _cli(intake, "sending-domain", "add", "News.Shop.Example")
    assert added.returncode == 0
    assert "news.shop.example" in added.stdout.split()
    listed = _cli(intake, "sending-domain", "list").stdout.split()
    assert {DOMAIN, "news.shop.example"} <= set(listed)
    removed = _cli(intake, "sending-domain", "remove", "news.shop.example")
    assert removed.returncode == 0 and "news.shop.example" not in removed.stdout.split()
    bad = _cli(intake, "sending-domain", "add", "not a domain")
    assert bad.returncode == 1 and "is not a domain name" in bad.stderr
