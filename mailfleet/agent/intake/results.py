"""What one SMTP intake session came to, for ``mailfleet_intake_sessions_total``.

Pure bookkeeping over the replies the session sent. A session counts once, when it ends, under
the first of these that applies:

- ``refused``: turned away before the greeting (connection caps, a client talking first);
- ``accepted``: at least one message was committed and got its 250;
- ``error``: the agent could not store a message (451 4.3.0, or 452 4.3.1 while its disk is
  full) and accepted none;
- ``auth_failed``: an AUTH failed (wrong credentials, or refused during a cool-down);
- ``rejected``: a command or message was refused (policy, limits, hostile input);
- ``idle``: nothing was sent or refused (a probe, a connect-and-QUIT, an idle timeout).
"""

from __future__ import annotations

RESULTS = ("refused", "accepted", "error", "auth_failed", "rejected", "idle")

# The intake's own replies that the tally tells apart (see mailfleet.agent.intake.session).
ACCEPTED = "250 2.0.0 Ok: queued"
# RFC 3463 4.3.1 "mail system full", with RFC 5321's 452: the client keeps the message and
# tries again later; the session stays open.
NO_SPACE = "452 4.3.1 Insufficient system storage; try again later"
STORE_FAILED = ("451 4.3.0", NO_SPACE)
AUTH_FAILED = ("535 ", "454 4.7.0 Too many failed logins")


class SessionTally:
    """Notes each reply of one session and names its result at the end."""

    def __init__(self) -> None:
        self.refused = False
        self.accepted = 0
        self._error = False
        self._auth_failed = False
        self._rejected = False

    def note(self, reply: str) -> None:
        """Take one reply the session sent."""
        if reply.startswith(ACCEPTED):
            self.accepted += 1
        elif reply.startswith(STORE_FAILED):
            self._error = True
        elif reply.startswith(AUTH_FAILED):
            self._auth_failed = True
        elif reply[:1] in ("4", "5"):
            self._rejected = True

    def result(self) -> str:
        """One of :data:`RESULTS`."""
        if self.refused:
            return "refused"
        if self.accepted:
            return "accepted"
        if self._error:
            return "error"
        if self._auth_failed:
            return "auth_failed"
        if self._rejected:
            return "rejected"
        return "idle"
