"""Who this desktop is in the team: the person it joined as, remembered in its own settings.

The settings are this computer's (and the tests give each app instance its own), so two
desktops on one team database are two people. The key names the database and the workspace, so
a desktop that opens another database is nobody there until it joins.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Engine

from mailfleet.desktop.services import audit_log, people
from mailfleet.desktop.services.people import Seat
from mailfleet.desktop.ui.qt import QSettings


def _key(engine: Engine, workspace_id: int) -> str:
    where = f"{engine.url.render_as_string(hide_password=True)}\0{workspace_id}"
    return "team/person-" + hashlib.sha256(where.encode()).hexdigest()[:16]


def sit_down(engine: Engine, workspace_id: int, settings: QSettings) -> Seat:
    """This desktop's seat in the workspace (creating its owner when it has nobody yet).

    Read once while the window is built, like the workspace itself."""
    value = settings.value(_key(engine, workspace_id))
    claimed = int(str(value)) if value not in (None, "") else None
    with engine.begin() as conn:
        seat = people.sign_in(conn, workspace_id, claimed)
    seat.origin = audit_log.this_computer()
    if seat.person is not None:
        remember(settings, engine, workspace_id, seat.person.id)
    return seat


def remember(settings: QSettings, engine: Engine, workspace_id: int, person_id: int) -> None:
    """This desktop is ``person_id`` in the workspace from now on."""
    settings.setValue(_key(engine, workspace_id), person_id)
    # Written out at once: a desktop that ends before Qt's own deferred write would be nobody
    # in its own workspace when it opens again.
    settings.sync()
