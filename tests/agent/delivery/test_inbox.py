"""What a worker keeps of the specs it is sent: a campaign's for its next messages, a
transactional message's only until its jobs are built (one per submission: kept, every
message ever submitted would stay in the worker's memory)."""

from __future__ import annotations

from mailfleet.agent.delivery.jobs import Job, MessageSpec, WorkBatch
from mailfleet.agent.delivery.worker import Inbox
from mailfleet.agent.model import Content, Sender

SUBMITTED = MessageSpec(Sender("app@shop.example"), None, raw_mime=b"Subject: hi\r\n\r\nhi\r\n")
CAMPAIGN = MessageSpec(Sender("news@shop.example"), Content("Offers", text="Hello"))


def _job(message_id: int, spec_key: str, transactional: bool) -> Job:
    return Job(message_id, spec_key, f"r{message_id}@d.example", b"", (), transactional)


async def test_a_submitted_messages_spec_goes_once_its_last_job_has_it() -> None:
    inbox = Inbox()
    inbox.put(
        WorkBatch(
            [_job(1, "t7", True), _job(2, "t7", True), _job(3, "c1", False)],
            specs={"t7": SUBMITTED, "c1": CAMPAIGN},
        )
    )
    first, second = await inbox.take() or []
    assert inbox.spec_for(first) is SUBMITTED
    assert "t7" in inbox.specs  # the second recipient's job still needs it
    assert inbox.spec_for(second) is SUBMITTED
    assert "t7" not in inbox.specs
    (bulk,) = await inbox.take() or []
    assert inbox.spec_for(bulk) is CAMPAIGN
    assert "c1" in inbox.specs  # the campaign's next messages come without it


async def test_a_spec_sent_again_with_a_later_batch_is_kept_for_it() -> None:
    inbox = Inbox()
    inbox.put(WorkBatch([_job(1, "t7", True)], specs={"t7": SUBMITTED}))
    inbox.put(WorkBatch([_job(2, "t7", True)], specs={"t7": SUBMITTED}))  # a retry, say
    first, second = await inbox.take() or []
    inbox.spec_for(first)
    assert inbox.spec_for(second) is SUBMITTED
    assert inbox.specs == {}
