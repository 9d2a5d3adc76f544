"""Running a campaign upload in its own process, so the window's process never waits for it.

Reading a million recipients and building their protobuf messages is Python work that holds the
interpreter lock for most of its time; in a separate process it cannot delay the GUI thread.
The agents' keys (and the media bucket's, when the workspace has one) are read from the keyring
here and handed to the child through its start-up pipe (never its command line); progress and
the outcome come back through a queue.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from mailfleet.agent.client import Pairing
from mailfleet.desktop.agents import media_publish, registry
from mailfleet.desktop.agents.media_publish import PublishError
from mailfleet.desktop.agents.upload import (
    Flag,
    Progress,
    UploadCancelled,
    UploadIncomplete,
    upload_campaign,
)
from mailfleet.desktop.db.engine import make_engine
from mailfleet.desktop.services import campaigns
from mailfleet.desktop.services.media_storage import Bucket


class UploadFailed(Exception):
    """The upload process failed; the message says how."""


def upload_in_process(
    engine: Engine,
    workspace_id: int,
    campaign_id: int,
    progress: Callable[[Progress], None],
    cancel: Flag,
) -> None:
    """Like :func:`upload_campaign` (same outcome and exceptions), in a separate process."""
    with engine.connect() as conn:
        agent_ids = {p.agent_id for p in campaigns.parts(conn, campaign_id)}
        records = [registry.get_agent(conn, workspace_id, a) for a in agent_ids]
    pairings = {record.id: record.pairing() for record in records}
    bucket = media_publish.destination(engine, workspace_id)
    # "spawn", not "fork": forking a process that runs Qt and database threads is unsafe.
    context = multiprocessing.get_context("spawn")
    messages: Any = context.Queue()
    stop = context.Event()
    url = engine.url.render_as_string(hide_password=False)
    process = context.Process(
        target=_child,
        args=(url, workspace_id, campaign_id, pairings, bucket, messages, stop),
        daemon=True,
    )
    process.start()
    try:
        while True:
            if cancel.is_set():
                stop.set()
            try:
                item = messages.get(timeout=0.2)
            except queue_module.Empty:
                if not process.is_alive():
                    raise UploadFailed(f"the upload process ended ({process.exitcode})") from None
                continue
            if isinstance(item, Progress):
                progress(item)
            elif item is None:
                return
            elif item[0] == "incomplete":
                raise UploadIncomplete(item[1])
            else:
                kind, message = item
                raise {"cancelled": UploadCancelled, "agent": registry.AgentError}.get(
                    kind, UploadFailed
                )(message)
    finally:
        process.join(30)
        if process.is_alive():
            process.terminate()
            process.join()
        messages.close()


def _child(
    url: str,
    workspace_id: int,
    campaign_id: int,
    pairings: dict[int, Pairing],
    bucket: Bucket | None,
    messages: Any,
    stop: Flag,
) -> None:
    engine = make_engine(url)
    try:
        upload_campaign(engine, workspace_id, campaign_id, messages.put, stop, pairings, bucket)
        messages.put(None)
    except UploadCancelled:
        messages.put(("cancelled", "the upload was stopped"))
    except UploadIncomplete as exc:
        messages.put(("incomplete", exc.agents))
    except registry.AgentError as exc:
        messages.put(("agent", str(exc)))
    except PublishError as exc:  # in the marketer's words already
        messages.put(("error", str(exc)))
    except Exception as exc:  # handed to the app, which shows it
        messages.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        engine.dispose()
