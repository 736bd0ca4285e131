"""The reporter's voice on the follow-up page: rate the outcome, ask to reopen, flag retaliation.

Each is a reporter's action: the audit event says "reporter" and the day only, any text the
reporter adds is sealed under the case key like their other messages, and the mail it causes is
held to the next delivery slot (`reporter_action=True`), so nothing dates the action precisely.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from service.audit.trail import Actor, record_event
from service.cases.casework import add_message, reporter_case
from service.cases.lifecycle import (
    DECIDED,
    REPORTER,
    Action,
    Outcome,
    TransitionRefused,
    check_transition,
    lock_case,
    move,
)
from service.cases.readers import case_readers
from service.mail.outbox import enqueue_mail
from service.models import Author, Case, Priority
from service.people.sessions import ReporterAccess
from service.platform.clock import local_today, utcnow
from service.platform.errors import DomainError, InvalidSubmission
from service.sealing import keyring

RATINGS = range(1, 6)


class ReopenWindowClosed(DomainError):
    status_code = 409
    default_message = _l("The time to ask for this report to be reopened has passed.")


@dataclass(frozen=True)
class Voice:
    """What the follow-up page offers the reporter today."""

    can_rate: bool
    reopen_until: dt.date | None  # the last day a reopening may be asked for, once decided
    can_reopen: bool


def voice_for(case: Case, today: dt.date, *, reopen_window: dt.timedelta) -> Voice:
    """`reopen_window`: REOPEN_WINDOW_DAYS, how long after a decision a reopening may be asked."""
    decided = case.status in DECIDED and case.decided_on is not None
    until = case.decided_on + reopen_window if decided and case.decided_on else None
    return Voice(
        can_rate=decided and case.rating is None,
        reopen_until=until,
        can_reopen=until is not None and today <= until,
    )


def _reporter_event(db: Session, case: Case, action: str, now: dt.datetime, **details) -> None:
    record_event(
        db,
        organisation_id=case.organisation_id,
        action=action,
        actor=Actor.reporter(),
        case_id=case.id,
        details=details,
        now=now,
    )


def _reporter_message(
    db: Session, case: Case, keys: keyring.CaseKeys, text: str, now: dt.datetime
) -> None:
    add_message(db, case, keys, author=Author.REPORTER, account=None, text=text, now=now)


def _tell(db: Session, case: Case, template: str, now: dt.datetime, *, chairs: bool) -> None:
    """Mail the case's readers (or its chairs, if any can read it) that something happened."""
    recipients = (case_readers(db, case, chairs_only=True) if chairs else []) or case_readers(
        db, case
    )
    for account in recipients:
        enqueue_mail(
            db,
            organisation_id=case.organisation_id,
            recipient=account.email,
            template=template,
            now=now,
            reporter_action=True,
        )


def rate_outcome(
    db: Session, access: ReporterAccess, rating: int, now: dt.datetime | None = None
) -> Outcome:
    """The reporter rates the outcome (1–5) once the case is decided; once per decision."""
    now = now or utcnow()
    if rating not in RATINGS:
        raise InvalidSubmission()
    case, _keys = reporter_case(db, access)
    case = lock_case(db, case)
    if case.status not in DECIDED:
        raise TransitionRefused()
    if case.rating is not None:
        return Outcome(case, False)
    case.rating, case.rated_on = rating, local_today(now)
    _reporter_event(db, case, "case.rated", now, rating=rating)
    return Outcome(case, True)


def ask_to_reopen(
    db: Session,
    access: ReporterAccess,
    text: str = "",
    now: dt.datetime | None = None,
    *,
    reopen_window: dt.timedelta,
) -> Outcome:
    """The reporter asks, within REOPEN_WINDOW_DAYS of the decision, for the case to be handled
    again: it is reopened at once (lifecycle.move, as "reporter"), with their reasons if any."""
    now = now or utcnow()
    case, keys = reporter_case(db, access)
    case = lock_case(db, case)
    if not check_transition(case, Action.REOPEN, REPORTER):
        return Outcome(case, False)
    if not voice_for(case, local_today(now), reopen_window=reopen_window).can_reopen:
        raise ReopenWindowClosed()
    if text.strip():
        _reporter_message(db, case, keys, text, now)
    move(db, case, Action.REOPEN, actor=Actor.reporter(), now=now)
    _tell(db, case, "case_reopened", now, chairs=False)
    return Outcome(case, True)


def flag_retaliation(
    db: Session, access: ReporterAccess, text: str = "", now: dt.datetime | None = None
) -> Outcome:
    """Trả thù, trù dập: the reporter says they suffer for having reported. The case's priority
    becomes high and the chair(s) are told (by a mail that says only that there is a flag)."""
    now = now or utcnow()
    today = local_today(now)
    case, keys = reporter_case(db, access)
    case = lock_case(db, case)
    if case.retaliation_flagged_on == today:
        return Outcome(case, False)
    if text.strip():
        _reporter_message(db, case, keys, text, now)
    case.priority = Priority.HIGH
    case.retaliation_flagged_on = today
    _reporter_event(db, case, "case.retaliation_flagged", now, priority=str(case.priority))
    _tell(db, case, "retaliation_flagged", now, chairs=True)
    return Outcome(case, True)
