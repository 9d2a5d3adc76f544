"""The events log: cursors that miss nothing and repeat nothing across reconnects."""

from __future__ import annotations

import threading

from mailfleet.v1 import events_pb2
from tests.agent.builders import batches, campaign_request, recipients, transactional
from tests.peers.agent import AgentProcess, Stubs

EventType = events_pb2.EventType


def test_list_events_pages_by_cursor(admin: Stubs) -> None:
    c = admin.campaigns.CreateCampaign(campaign_request("events-1"))
    # Not started: a started campaign's deliveries would add events while the pages are read.
    admin.campaigns.UploadRecipients(batches(c.id, recipients(10), size=5))
    first = admin.events.ListEvents(events_pb2.ListEventsRequest(limit=2))
    rest = admin.events.ListEvents(events_pb2.ListEventsRequest(after_seq=first.next_after_seq))
    kinds = [e.type for e in [*first.events, *rest.events]]
    assert kinds == [
        EventType.EVENT_TYPE_CAMPAIGN_CREATED,
        EventType.EVENT_TYPE_RECIPIENTS_ADDED,
        EventType.EVENT_TYPE_RECIPIENTS_ADDED,
    ]
    seqs = [e.seq for e in [*first.events, *rest.events]]
    assert seqs == sorted(set(seqs))
    empty = admin.events.ListEvents(events_pb2.ListEventsRequest(after_seq=rest.next_after_seq))
    assert not empty.events and empty.next_after_seq == rest.next_after_seq


def test_watch_resumes_after_reconnect_without_gaps_or_repeats(
    agent_process: AgentProcess, admin: Stubs
) -> None:
    for i in range(5):
        admin.transactional.SendMessage(transactional(f"before-{i}"))
    first = agent_process.stubs()
    stream = iter(first.events.WatchEvents(events_pb2.WatchEventsRequest(after_seq=0), timeout=30))
    seen = [next(stream) for _ in range(3)]
    first.channel.close()  # the client goes away mid-stream

    for i in range(5):  # written while nobody watches
        admin.transactional.SendMessage(transactional(f"between-{i}"))

    second = agent_process.stubs()
    again = iter(
        second.events.WatchEvents(events_pb2.WatchEventsRequest(after_seq=seen[-1].seq), timeout=30)
    )
    live_writer = threading.Thread(
        target=lambda: [
            admin.transactional.SendMessage(transactional(f"live-{i}")) for i in range(5)
        ]
    )
    live_writer.start()
    seen.extend(next(again) for _ in range(12))
    live_writer.join()
    second.channel.close()

    # Deliveries of the first messages interleave with the later ones' queueing (outcomes
    # are recorded within milliseconds), so what is checked is the log itself: the events
    # seen over both connections are exactly the log's first 15, in order.
    listed = admin.events.ListEvents(events_pb2.ListEventsRequest()).events
    assert len(seen) == 15
    assert [(e.seq, e.type, e.message_id) for e in seen] == [
        (e.seq, e.type, e.message_id) for e in listed[:15]
    ]


def test_batched_watch_sends_what_was_committed_together_and_resumes_by_seq(
    agent_process: AgentProcess, admin: Stubs
) -> None:
    for i in range(6):
        admin.transactional.SendMessage(transactional(f"batch-before-{i}"))
    committed = admin.events.ListEvents(events_pb2.ListEventsRequest()).events
    watcher = agent_process.stubs()
    request = events_pb2.WatchEventsRequest(after_seq=0)
    stream = iter(watcher.events.WatchEventBatches(request, timeout=30))
    first = next(stream)
    # Everything already committed comes in one message, not one message per event (more
    # may have been committed meanwhile: the six messages' deliveries).
    assert len(committed) >= 6
    assert list(first.events)[: len(committed)] == list(committed)
    seen = list(first.events)
    admin.transactional.SendMessage(transactional("batch-live-0"))
    seen.extend(next(stream).events)
    watcher.channel.close()

    for i in range(3):  # written while nobody watches
        admin.transactional.SendMessage(transactional(f"batch-after-{i}"))
    again = agent_process.stubs()
    resumed = again.events.WatchEventBatches(
        events_pb2.WatchEventsRequest(after_seq=seen[-1].seq), timeout=30
    )
    seen.extend(next(iter(resumed)).events)
    again.channel.close()

    listed = admin.events.ListEvents(events_pb2.ListEventsRequest()).events
    # The same events, in order, none missed or repeated, across both connections.
    assert seen == list(listed)[: len(seen)]
    assert len(seen) > len(first.events)
