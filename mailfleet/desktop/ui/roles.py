"""Buttons a person's role does not allow: disabled, with the reason as their tooltip.

The window's engine carries its seat (``mailfleet.desktop.services.people.as_seat``), so a page
asks the engine it was given; the services refuse the same actions anyway. A guarded widget
keeps its action as a Qt property, so the window can apply the guards again once the seat
changes (the desktop joined the team).
"""

from __future__ import annotations

from sqlalchemy import Engine

from mailfleet.desktop.services import people
from mailfleet.desktop.services.people import Action, Seat
from mailfleet.desktop.ui.qt import QWidget

ACTION_PROPERTY = "mailfleetAction"


def seat_of(engine: Engine) -> Seat | None:
    """The seat the engine acts for (None: nobody in particular, allowed everything)."""
    seat = engine.get_execution_options().get(people.SEAT_OPTION)
    return seat if isinstance(seat, Seat) else None


def allowed(engine: Engine, action: Action) -> bool:
    """Whether the engine's person may do ``action``."""
    seat = seat_of(engine)
    return seat is None or seat.can(action)


def guard(widget: QWidget, engine: Engine, action: Action) -> None:
    """Disable ``widget`` with the reason as its tooltip when the role does not allow
    ``action``, and remember the action for :func:`apply_all`."""
    widget.setProperty(ACTION_PROPERTY, action.name)
    _apply(widget, seat_of(engine), action)


def _apply(widget: QWidget, seat: Seat | None, action: Action) -> None:
    reason = seat.why_not(action) if seat is not None else ""
    widget.setEnabled(not reason)
    widget.setToolTip(reason)


def apply_all(root: QWidget, seat: Seat) -> None:
    """Apply every guard under ``root`` again for ``seat``."""
    for widget in root.findChildren(QWidget):
        name = widget.property(ACTION_PROPERTY)
        if isinstance(name, str) and name in Action.__members__:
            _apply(widget, seat, Action[name])
