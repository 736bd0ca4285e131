"""Long-running workers (`--loop` commands) outlive a database outage.

A worker that exited whenever PostgreSQL restarted, failed over or dropped its connections would
leave mail undelivered until someone noticed. Instead a lost connection is rolled back, logged
(the kind of error only: a driver's message may name hosts, databases or users) and retried after
a pause that doubles up to a cap, while SIGTERM still stops the worker at once. The engine's
pre-ping replaces the dead pooled connection when the database is back.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

# What a database going away looks like through SQLAlchemy: refused or dropped connections,
# a server shutting down, a database that does not accept connections right now.
DATABASE_LOST: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
WAIT_CAP_SECONDS = 60.0

log = logging.getLogger("homthu.worker")


class DatabaseOutage:
    """Backoff bookkeeping for one worker loop: how long to wait after each failed poll."""

    def __init__(self, stop: threading.Event, first_wait: float, cap: float = WAIT_CAP_SECONDS):
        self.stop = stop
        self.first_wait = first_wait
        self.cap = cap
        self.failures = 0

    def next_wait(self) -> float:
        return min(self.cap, self.first_wait * 2 ** min(self.failures - 1, 16))

    def wait_after(self, session: Session, error: Exception) -> None:
        """Forget the failed transaction, log one line, and wait (or return early on stop)."""
        self.failures += 1
        _discard(session)
        wait = self.next_wait()
        log.warning(
            "database unavailable (%s, failure %d; retrying in %.0f s)",
            type(error).__name__,
            self.failures,
            wait,
        )
        self.stop.wait(wait)

    def ended(self) -> None:
        if self.failures:
            log.warning("database reachable again after %d failed attempt(s)", self.failures)
        self.failures = 0


def _discard(session: Session) -> None:
    # The session's connection is dead: rolling back only resets the session; if even that
    # fails the pool invalidates the connection, and the next poll checks out a fresh one.
    try:
        session.rollback()
    except DATABASE_LOST:
        session.close()
