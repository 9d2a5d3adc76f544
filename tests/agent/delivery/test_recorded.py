"""Outcomes are recorded as they happen: a crash can repeat only what was in flight last.

After a restart every returned lease is claimed at once, as one large group for one worker.
Its first messages' outcomes must be in the store while its later ones are still being sent,
not only once the whole group is done.
"""

from __future__ import annotations

from collections.abc import Callable

from mailfleet.v1 import messages_pb2
from tests.agent.builders import transactional, wait_until
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.smtp import SmtpSink, accept, stall

TOTAL = 300
STALLED = 200  # the message the sink holds after the restart, and every later one behind it
HOLD = 600.0  # longer than the test: the stalled message is never answered while it runs


def _config(sink: SmtpSink) -> str:
    # One connection: the relay takes the group's messages one after another, in order.
    return (
        '[delivery]\nworkers = 2\ndefault_route = "relay"\n\n'
        f'[routes.relay]\ntype = "smtp"\nhost = "127.0.0.1"\nport = {sink.port}\n'
        f'tls = "none"\ntimeout_seconds = {HOLD}\n'
        "[routes.relay.limits]\nconnections = 1\n"
    )


def _state(stubs: Stubs, message_id: int) -> int:
    request = messages_pb2.GetMessageRequest(message_id=message_id)
    return stubs.messages.GetMessage(request).state


def test_the_first_outcomes_of_a_large_group_after_a_restart_are_recorded_while_the_rest_is_sent(
    agent_factory: Callable[[str], AgentProcess],
) -> None:
    with SmtpSink(keep_data=False) as sink:
        sink.rule("user0@example.com", stall(HOLD))  # holds the one connection: all wait
        agent = agent_factory(_config(sink))
        stubs = agent.stubs()
        ids = [
            stubs.transactional.SendMessage(
                transactional(f"group-{i}", f"user{i}@example.com")
            ).message_id
            for i in range(TOTAL)
        ]
        wait_until(
            lambda: _state(stubs, ids[-1]) == messages_pb2.MESSAGE_STATE_IN_FLIGHT,
            60,
            "every message to be leased to a worker",
        )
        agent.kill()
        assert sink.count == 0

        sink.rule("user0@example.com", accept())
        sink.rule(f"user{STALLED}@example.com", stall(HOLD))
        agent.start()
        after = agent.stubs()
        sink.wait_for(STALLED, timeout=120)
        # The sink has everything before the stalled message and nothing after it.
        wait_until(
            lambda: _state(after, ids[0]) == messages_pb2.MESSAGE_STATE_DELIVERED,
            60,
            "the group's first outcome to be recorded",
        )
        assert sink.count == STALLED
        assert _state(after, ids[-1]) == messages_pb2.MESSAGE_STATE_IN_FLIGHT
        assert _state(after, ids[STALLED]) == messages_pb2.MESSAGE_STATE_IN_FLIGHT
