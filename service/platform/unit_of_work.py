"""One unit of work: a request, or a CLI command, is one transaction.

**Where a transaction begins and ends.** A request's session (``get_db()``) begins its
transaction at its first statement. ``init_app`` commits it in ONE place, an ``after_request``
hook, when the response's status is below 400, and rolls it back otherwise (like Warehouse's
pyramid_tm: commit unless the request failed). A commit that fails raises into the error
handlers, so nobody is told "saved" about something that was not; ``roll_back_request`` is the
first thing every error handler does, so an error page never renders with a broken session
(nor with one at all: it renders from plain values, so a lost database cannot fail it again).
The teardown (service/platform/db.py) rolls back and closes whatever is left. A CLI command
runs inside ``transaction()`` (or the ``in_transaction`` decorator): committed when the block
ends, rolled back on any error; a command reports what it did after the block, once committed.
Domain functions never commit: they flush where they need ids, so a change, its audit event and
its outbox mail land together or not at all.

**Named exceptions** — the only commits outside the two above, each made through
``commit_exception(session, "<name>")``, which refuses any name not in ``EXCEPTIONS``:

- ``outbox-delivery`` (service/mail/delivery.py): each mail is claimed, sent and marked in its
  own transaction, so SMTP never runs inside a lock and a sent mail is never sent again; this
  also makes ``outbox send --loop`` commit as it goes.
- ``retention-per-case`` (service/cases/retention.py): `retention apply` shreds one case per
  transaction, and the write-ahead log is checkpointed only after those commits.
- ``failed-login`` (service/people/accounts.py): a failed staff login is counted (and the account
  locked) although the request answers 4xx.
- ``dead-staff-session`` (service/people/sessions.py): a staff session that was ended, expired
  or whose account left is deleted at once, although the request answers 401/403, so "your
  session ended because …" is said only once.

A domain function may still roll back, but only before it has written anything of its unit, to
end a read before slow work (log_in before Argon2id; delivery and retention before their loops).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, g
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from service.platform.db import get_database

EXCEPTIONS = ("outbox-delivery", "retention-per-case", "failed-login", "dead-staff-session")

R = TypeVar("R")


def commit_exception(session: Session, name: str) -> None:
    """Commit now, in the middle of a request or command: only for a named exception."""
    if name not in EXCEPTIONS:
        raise ValueError(f"{name!r} is not a named unit-of-work exception")
    session.commit()


def init_app(app: Flask) -> None:
    app.after_request(_finish_request)


def _finish_request(response: Response) -> Response:
    """Commit the request's session if the response says it succeeded; else roll it back."""
    session: Session | None = g.get("db")
    if session is None:
        return response
    if response.status_code < 400:
        session.commit()  # the one commit of a request; if it fails, the error handler answers
    else:
        roll_back_request()
    return response


def roll_back_request() -> None:
    """Drop whatever the failed request changed, and the session with it.

    The session is rolled back and closed, and the request forgets it: the error page renders
    from plain values, never from objects a rollback expired (reading one would query a
    database that may be gone, and fail again inside the error handler). If even the rollback
    fails, the connection was lost with its transaction, so nothing of it was committed: the
    session is invalidated, which drops the connection without a word to the server.
    """
    session: Session | None = g.pop("db", None)
    if session is None:
        return
    try:
        session.rollback()
    except SQLAlchemyError:
        session.invalidate()
    session.close()


@contextmanager
def transaction() -> Iterator[Session]:
    """A CLI command's session: committed when the block ends, rolled back on any error."""
    with get_database().session() as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        session.commit()  # the one commit of a command


def in_transaction(command: Callable[..., R]) -> Callable[..., R]:
    """Decorate a click command (below its options): it gets the session as first argument."""

    @wraps(command)
    def wrapped(*args: Any, **kwargs: Any) -> R:
        with transaction() as db:
            return command(db, *args, **kwargs)

    return wrapped
