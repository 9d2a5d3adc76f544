"""The Suppression service of a real agent, and suppression in real deliveries."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import pytest

from mailfleet.v1 import (
    admin_pb2,
    campaigns_pb2,
    capture_pb2,
    common_pb2,
    events_pb2,
    suppression_pb2,
)
from tests.agent.builders import batches, campaign_request, relay_config, wait_until
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.smtp import SmtpSink, refuse

Reason = suppression_pb2.SuppressionReason
AgentFactory = Callable[[str], AgentProcess]


def _entry(email: str, reason: int = 0, scope: str = "") -> suppression_pb2.SuppressionEntry:
    return suppression_pb2.SuppressionEntry(email=email, reason=reason, scope=scope)  # type: ignore[arg-type]


def test_add_check_list_and_remove(admin: Stubs) -> None:
    added = admin.suppression.AddSuppressions(
        suppression_pb2.AddSuppressionsRequest(
            entries=[_entry(f"u{i:03d}@example.com") for i in range(150)]
            + [_entry("Left@Example.com", Reason.SUPPRESSION_REASON_UNSUBSCRIBE)]
        )
    )
    assert added.added == 151
    checked = admin.suppression.CheckSuppressions(
        suppression_pb2.CheckSuppressionsRequest(emails=["left@example.com", "new@example.com"])
    )
    assert [s.suppressed for s in checked.statuses] == [True, False]
    (entry,) = checked.statuses[0].entries
    assert (entry.email, entry.reason, entry.source) == (
        "Left@Example.com",
        Reason.SUPPRESSION_REASON_UNSUBSCRIBE,
        "api",
    )
    assert entry.created_at.seconds > 0
    emails: list[str] = []
    token = ""
    while True:
        page = admin.suppression.ListSuppressions(
            suppression_pb2.ListSuppressionsRequest(limit=40, page_token=token)
        )
        emails += [e.email for e in page.entries]
        assert page.total == 151
        token = page.next_page_token
        if not token:
            break
    assert len(emails) == 151 == len(set(emails))
    manual = admin.suppression.ListSuppressions(
        suppression_pb2.ListSuppressionsRequest(limit=1000, reason=Reason.SUPPRESSION_REASON_MANUAL)
    )
    assert len(manual.entries) == 150
    removed = admin.suppression.RemoveSuppressions(
        suppression_pb2.RemoveSuppressionsRequest(emails=["LEFT@example.com", "nobody@example.com"])
    )
    assert removed.removed == 1


def test_bad_requests_name_their_field(admin: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as err:
        admin.suppression.AddSuppressions(
            suppression_pb2.AddSuppressionsRequest(
                entries=[_entry("ok@example.com"), _entry("nope")]
            )
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (err.value.details() or "").startswith("entries[1].email")
    with pytest.raises(grpc.RpcError) as err:
        admin.suppression.ListSuppressions(suppression_pb2.ListSuppressionsRequest(page_token="%%"))
    assert (err.value.details() or "").startswith("page_token")
    # Nothing of a refused call was stored.
    checked = admin.suppression.CheckSuppressions(
        suppression_pb2.CheckSuppressionsRequest(emails=["ok@example.com"])
    )
    assert not checked.statuses[0].suppressed


def test_import_and_export_in_bulk_and_tenants_do_not_mix(
    agent_process: AgentProcess, admin: Stubs
) -> None:
    def stream() -> Iterator[suppression_pb2.SuppressionBatch]:
        for b in range(5):
            yield suppression_pb2.SuppressionBatch(
                entries=[_entry(f"b{b}-{i}@example.com") for i in range(1000)]
            )
        yield suppression_pb2.SuppressionBatch(
            entries=[_entry("b0-0@example.com"), _entry("not an address")]
        )

    summary = admin.suppression.ImportSuppressions(stream())
    assert (summary.received, summary.added, summary.existing) == (5002, 5000, 1)
    assert [(i.index, i.email) for i in summary.invalid] == [(5001, "not an address")]
    exported = [
        e.email
        for batch in admin.suppression.ExportSuppressions(
            suppression_pb2.ExportSuppressionsRequest()
        )
        for e in batch.entries
    ]
    assert len(exported) == 5000 == len(set(exported))
    assert all(
        e.source == "import"
        for batch in admin.suppression.ExportSuppressions(
            suppression_pb2.ExportSuppressionsRequest()
        )
        for e in batch.entries
    )
    tenant = admin.admin.CreateTenant(admin_pb2.CreateTenantRequest(name="other"))
    key = admin.admin.CreateApiKey(admin_pb2.CreateApiKeyRequest(tenant_id=tenant.id, name="k"))
    other = agent_process.stubs(key.secret)
    page = other.suppression.ListSuppressions(suppression_pb2.ListSuppressionsRequest())
    assert (list(page.entries), page.total) == ([], 0)


def _campaign(stubs: Stubs, emails: list[str], key: str) -> int:
    c = stubs.campaigns.CreateCampaign(campaign_request(key))
    rows = [common_pb2.Recipient(email=e, values=["Ann", "Paris"]) for e in emails]
    summary = stubs.campaigns.UploadRecipients(batches(c.id, rows))
    assert summary.accepted == len(emails)
    return c.id


def _wait_finished(stubs: Stubs, campaign_id: int) -> common_pb2.StateCounts:
    ref = campaigns_pb2.CampaignRef(campaign_id=campaign_id)
    wait_until(
        lambda: stubs.campaigns.GetCampaign(ref).state == campaigns_pb2.CAMPAIGN_STATE_COMPLETED,
        30,
        "the campaign to complete",
    )
    return stubs.campaigns.GetCampaign(ref).counts


def _events(stubs: Stubs, type_: int) -> list[events_pb2.Event]:
    found = stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=10_000)).events
    return [e for e in found if e.type == type_]


def test_suppressed_recipients_are_never_sent_whether_suppressed_before_or_after_upload(
    admin: Stubs,
) -> None:
    admin.suppression.AddSuppressions(
        suppression_pb2.AddSuppressionsRequest(entries=[_entry("early@example.com")])
    )
    emails = ["early@example.com", "late@example.com", "ok1@example.com", "ok2@example.com"]
    cid = _campaign(admin, emails, "c1")
    # Suppressed after it was queued, before the campaign runs: the dequeue check stops it.
    admin.suppression.AddSuppressions(
        suppression_pb2.AddSuppressionsRequest(
            entries=[_entry("late@example.com", Reason.SUPPRESSION_REASON_UNSUBSCRIBE)]
        )
    )
    admin.campaigns.StartCampaign(campaigns_pb2.CampaignRef(campaign_id=cid))
    counts = _wait_finished(admin, cid)
    assert (counts.delivered, counts.suppressed) == (2, 2)
    captured = admin.capture.ListCaptured(capture_pb2.ListCapturedRequest(limit=100)).messages
    assert sorted(m.rcpt_to for m in captured) == ["ok1@example.com", "ok2@example.com"]
    stages = {
        e.email: e.attrs["stage"] for e in _events(admin, events_pb2.EVENT_TYPE_MESSAGE_SUPPRESSED)
    }
    assert stages == {"early@example.com": "enqueue", "late@example.com": "dequeue"}


def test_a_hard_bounce_at_rcpt_suppresses_the_address_and_a_soft_one_does_not(
    agent_factory: AgentFactory,
) -> None:
    with SmtpSink() as sink:
        sink.rule("dead@example.com", refuse("550 5.1.1 No such user"))
        sink.rule("full@example.com", refuse("552 5.2.2 Mailbox full"))
        agent = agent_factory(relay_config(sink))
        stubs = agent.stubs()
        emails = ["dead@example.com", "full@example.com", "ok@example.com"]
        cid = _campaign(stubs, emails, "c1")
        stubs.campaigns.StartCampaign(campaigns_pb2.CampaignRef(campaign_id=cid))
        counts = _wait_finished(stubs, cid)
        assert (counts.delivered, counts.bounced) == (1, 2)
        bounced = {
            e.email: (e.attrs["bounce"], e.attrs["bounce_reason"])
            for e in _events(stubs, events_pb2.EVENT_TYPE_MESSAGE_BOUNCED)
        }
        assert bounced == {
            "dead@example.com": ("hard", "user_unknown"),
            "full@example.com": ("soft", "mailbox_full"),
        }
        checked = stubs.suppression.CheckSuppressions(
            suppression_pb2.CheckSuppressionsRequest(emails=emails)
        )
        assert [s.suppressed for s in checked.statuses] == [True, False, False]
        # The next campaign to the same list skips the dead address.
        cid2 = _campaign(stubs, emails, "c2")
        stubs.campaigns.StartCampaign(campaigns_pb2.CampaignRef(campaign_id=cid2))
        counts = _wait_finished(stubs, cid2)
        assert (counts.suppressed, counts.delivered, counts.bounced) == (1, 1, 1)
        assert sorted(r for m in sink.received for r in m.rcpt_to) == [
            "ok@example.com",
            "ok@example.com",
        ]
