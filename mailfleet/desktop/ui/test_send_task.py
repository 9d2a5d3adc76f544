"""A test send run off the GUI thread, its result shown in a notice: shared by the Templates
page and the campaign wizard's review page."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from mailfleet.desktop.agents import send_test
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.notice import Notice
from mailfleet.desktop.ui.tasks import Task, TaskRunner

# (subject, html, text) of the message to send, worked out in the background.
Body = Callable[[], tuple[str, str, str]]


def addresses(typed: str) -> list[str]:
    """The comma-separated addresses typed into a "Test to" field, blanks left out."""
    return [a.strip() for a in typed.split(",") if a.strip()]


def send_in_background(
    runner: TaskRunner,
    notice: Notice,
    engine: Engine,
    workspace_id: int,
    agent_id: int,
    to: list[str],
    body: Body,
    from_address: str,
    as_contact: str,
) -> None:
    """Send ``body`` to ``to`` through the agent, personalised as ``as_contact``; flash who got
    it in ``notice``, or say there (until the next message) why it was not sent."""

    def work(_task: Task[list[str]]) -> list[str]:
        subject, html, text = body()
        return send_test.send(
            engine, workspace_id, agent_id, to, subject, html, text, from_address, as_contact
        )

    def done(sent: list[str]) -> None:
        notice.flash(f"Test sent to {', '.join(sent)}.")

    runner.run(
        "Sending a test",
        work,
        done,
        on_error=lambda e: notice.setText(f"Test not sent: {explain(e)}"),
        network=True,
    )
