"""Event webhooks against a real receiver: it fails, then recovers; the agent is killed
(SIGKILL) in between; every event arrives, in the log's order, signed, none lost."""

from __future__ import annotations

from collections.abc import Callable

from mailfleet.v1 import events_pb2, webhooks_pb2
from tests.agent.builders import transactional, wait_until
from tests.agent.eventhooks.hooks import LOOPBACK_HOOKS, log_after, webhook
from tests.peers.agent import AgentProcess
from tests.peers.webhooks import Received, WebhookReceiver

EventType = events_pb2.EventType


def _first_of_each(taken: list[Received]) -> list[Received]:
    """The POSTs a receiver keeps when it drops a webhook-id it has already seen."""
    seen: set[str] = set()
    kept = []
    for r in taken:
        if r.msg_id not in seen:
            seen.add(r.msg_id)
            kept.append(r)
    return kept


def _event_ids(posts: list[Received]) -> list[str]:
    return [e["id"] for r in posts for e in r.json()["events"]]


def test_every_event_arrives_once_in_order_through_failure_and_a_kill(
    agent_factory: Callable[[str], AgentProcess],
) -> None:
    agent = agent_factory(LOOPBACK_HOOKS)
    stubs = agent.stubs()
    with WebhookReceiver() as receiver:
        before = log_after(stubs, 0)
        start_seq = before[-1].seq if before else 0
        receiver.fail_next = 3  # down at first
        created = stubs.webhooks.CreateWebhook(
            webhooks_pb2.CreateWebhookRequest(url=receiver.url(), description="orders"),
            timeout=10,
        )
        receiver.secret = created.secret
        assert created.secret.startswith("whsec_")
        for i in range(20):
            stubs.transactional.SendMessage(transactional(f"hook-{i}", f"r{i}@example.com"))

        wait_until(lambda: len(receiver.taken()) >= 1, 60, "the receiver to take a batch")
        agent.kill()  # SIGKILL, mid-way through the backlog
        agent.start()
        stubs = agent.stubs()
        for i in range(20, 30):
            stubs.transactional.SendMessage(transactional(f"hook-{i}", f"r{i}@example.com"))

        def caught_up() -> bool:
            expected = log_after(stubs, start_seq)
            delivered = sum(e.type == EventType.EVENT_TYPE_MESSAGE_DELIVERED for e in expected)
            got = set(_event_ids(receiver.taken()))
            return delivered >= 30 and {f"{_agent_id(receiver)}-{e.seq}" for e in expected} <= got

        wait_until(caught_up, 90, "every event of the log to reach the receiver")

        expected = log_after(stubs, start_seq)
        posts = _first_of_each(receiver.taken())
        agent_id = _agent_id(receiver)
        # Exactly the log's events, each once, in the log's order (so in order per message).
        assert _event_ids(posts) == [f"{agent_id}-{e.seq}" for e in expected]
        for r in posts:
            assert len(r.json()["events"]) <= 7
        by_message: dict[int, list[str]] = {}
        for e in (e for r in posts for e in r.json()["events"]):
            by_message.setdefault(e["message_id"], []).append(e["type"])
        assert len(by_message) == 30
        for types in by_message.values():
            assert types[0] == "message.queued" and "message.delivered" in types
        # A batch sent again (after a failure or the kill) is the same batch under the same id.
        first_body = {r.msg_id: r.body for r in posts}
        assert all(first_body[r.msg_id] == r.body for r in receiver.received)
        # Every POST, failed ones too, carried a valid signature within the replay window.
        assert all(r.verified for r in receiver.received)
        assert sum(r.status == 503 for r in receiver.received) == 3

        shown = webhook(stubs, created.webhook.id)
        assert shown.enabled and not shown.last_error and not shown.HasField("failing_since")
        assert shown.backlog == 0 and shown.delivered >= len(expected)


def _agent_id(receiver: WebhookReceiver) -> str:
    return str(receiver.taken()[0].json()["agent_id"])


def test_an_endpoint_that_keeps_failing_is_disabled_with_its_reason_and_resumes(
    agent_factory: Callable[[str], AgentProcess],
) -> None:
    agent = agent_factory(LOOPBACK_HOOKS + "give_up_hours = 0.0005\n")  # 1.8 s
    stubs = agent.stubs()
    with WebhookReceiver() as receiver:
        receiver.failing = True
        created = stubs.webhooks.CreateWebhook(
            webhooks_pb2.CreateWebhookRequest(
                url=receiver.url(), event_types=[EventType.EVENT_TYPE_MESSAGE_DELIVERED]
            ),
            timeout=10,
        )
        receiver.secret = created.secret
        for i in range(5):
            stubs.transactional.SendMessage(transactional(f"down-{i}", f"d{i}@example.com"))
        wait_until(
            lambda: not webhook(stubs, created.webhook.id).enabled, 60, "the endpoint disabled"
        )
        shown = webhook(stubs, created.webhook.id)
        assert shown.disabled_reason.startswith("disabled after failing for ")
        assert shown.disabled_reason.endswith("the last try: it answered HTTP 503: busy, try later")
        assert shown.last_error == "it answered HTTP 503: busy, try later"
        assert shown.HasField("failing_since") and shown.backlog == 5
        tries = len(receiver.received)
        assert tries >= 2  # it was retried before it was given up
        wait_until(
            lambda: _metric(agent, "mailfleet_webhook_backlog_events") == 5.0, 60, "the gauge"
        )
        assert _metric(agent, 'mailfleet_webhook_posts_total{result="failed"}') == tries
        assert len(receiver.received) == tries  # nothing is posted while disabled
        log = agent.log()
        assert "webhook 1 (127.0.0.1) failed, trying again: it answered HTTP 503" in log
        assert created.secret not in log and "/hooks" not in log  # nor the URL's path

        receiver.failing = False
        stubs.webhooks.UpdateWebhook(
            webhooks_pb2.UpdateWebhookRequest(id=created.webhook.id, enabled=True), timeout=10
        )
        wait_until(
            lambda: len(_event_ids(_first_of_each(receiver.taken()))) == 5, 60, "the backlog"
        )
        types = {e["type"] for r in receiver.taken() for e in r.json()["events"]}
        assert types == {"message.delivered"}  # only the types it asked for
        shown = webhook(stubs, created.webhook.id)
        assert shown.enabled and not shown.disabled_reason and shown.backlog == 0
        assert _metric(agent, "mailfleet_webhook_events_delivered_total") == 5.0
        wait_until(
            lambda: _metric(agent, "mailfleet_webhook_backlog_events") == 0.0, 60, "the gauge"
        )


def _metric(agent: AgentProcess, series: str) -> float:
    status, body = agent.http_get("/metrics")
    assert status == 200
    for line in body.decode().splitlines():
        name, _, value = line.rpartition(" ")
        if name == series:
            return float(value)
    return -1.0


def test_an_endpoint_that_hangs_holds_up_only_itself(
    agent_factory: Callable[[str], AgentProcess],
) -> None:
    agent = agent_factory(LOOPBACK_HOOKS + "timeout_seconds = 120\n")
    stubs = agent.stubs()
    with WebhookReceiver() as stuck, WebhookReceiver() as quick:
        stuck.hold()  # takes the request and never answers, until released
        for receiver in (stuck, quick):
            receiver.secret = stubs.webhooks.CreateWebhook(
                webhooks_pb2.CreateWebhookRequest(url=receiver.url()), timeout=10
            ).secret
        for i in range(10):
            stubs.transactional.SendMessage(transactional(f"hang-{i}", f"h{i}@example.com"))
        wait_until(lambda: len(stuck.received) == 1, 60, "the stuck endpoint's first POST")
        wait_until(lambda: len(_event_ids(quick.taken())) == 20, 60, "the other endpoint's")
        assert len(stuck.received) == 1  # nothing more went to it while it had not answered

        stuck.release()
        wait_until(lambda: len(_event_ids(stuck.taken())) == 20, 60, "the stuck one to catch up")
        assert _event_ids(stuck.taken()) == _event_ids(quick.taken())


def test_a_retry_after_answer_is_honoured(agent_factory: Callable[[str], AgentProcess]) -> None:
    """Back-off starts at 0.2 s here; the endpoint's Retry-After of 3 s wins over it."""
    agent = agent_factory(
        LOOPBACK_HOOKS.replace("max_retry_seconds = 1.0", "max_retry_seconds = 60")
    )
    stubs = agent.stubs()
    with WebhookReceiver() as receiver:
        receiver.fail_next, receiver.retry_after = 1, "3"
        receiver.secret = stubs.webhooks.CreateWebhook(
            webhooks_pb2.CreateWebhookRequest(url=receiver.url()), timeout=10
        ).secret
        stubs.transactional.SendMessage(transactional("wait-1", "w1@example.com"))
        wait_until(lambda: len(receiver.taken()) >= 1, 60, "the retried POST")
        first, second = receiver.received[:2]
        assert first.status == 503 and second.msg_id == first.msg_id
        assert second.at - first.at >= 2.9
