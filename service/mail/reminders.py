"""The daily digest: `flask --app wsgi reminders send`.

Each active handler and chair with cases that are overdue or due within DUE_SOON_DAYS gets one
mail per local day, however often the command runs: counts and a link, nothing else — no
reference, kind, category or anything about a reporter. Counted are the cases they can read (their
body's, holding a key: a handler the reporter excluded does not hear of the case).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.mail.outbox import enqueue_mail
from service.mail.runs import claim_run
from service.models import (
    OPEN_STATUSES,
    Account,
    Case,
    CaseKeyWrap,
    KeyPurpose,
    Organisation,
    Role,
)
from service.platform.clock import local_today, utcnow
from service.rules.policy import DUE_SOON_DAYS

DIGEST_JOB = "digest"


@dataclass(frozen=True)
class DeadlineCounts:
    account_id: int
    overdue: int
    due_soon: int


def deadline_counts(db: Session, organisation_id: int, today: dt.date) -> list[DeadlineCounts]:
    """Per handler or chair: open cases they can read that are overdue or due soon (one query)."""
    horizon = today + dt.timedelta(days=DUE_SOON_DAYS)
    query = (
        select(
            CaseKeyWrap.account_id,
            func.count().filter(Case.next_due < today),
            func.count().filter(Case.next_due >= today),
        )
        .select_from(Case)
        .join(
            CaseKeyWrap,
            (CaseKeyWrap.case_id == Case.id) & (CaseKeyWrap.purpose == KeyPurpose.CASE),
        )
        .join(
            Account,
            (Account.id == CaseKeyWrap.account_id)
            & (Account.body_id == Case.body_id)
            & Account.active.is_(True)
            & Account.role.in_([Role.HANDLER, Role.CHAIR]),
        )
        .where(
            Case.organisation_id == organisation_id,
            Case.status.in_([str(status) for status in OPEN_STATUSES]),
            Case.next_due <= horizon,
        )
        .group_by(CaseKeyWrap.account_id)
        .order_by(CaseKeyWrap.account_id)
    )
    # account_id is never None here (the inner join on Account); the test tells the type checker.
    rows = db.execute(query)
    return [DeadlineCounts(a, overdue, soon) for a, overdue, soon in rows if a is not None]


def send_daily_digests(db: Session, now: dt.datetime | None = None) -> int:
    """Queue today's digests for every organisation; returns how many were queued."""
    now = now or utcnow()
    today = local_today(now)
    queued = 0
    for organisation in db.scalars(select(Organisation).order_by(Organisation.id)).all():
        for counts in deadline_counts(db, organisation.id, today):
            if not claim_run(
                db,
                organisation_id=organisation.id,
                job=DIGEST_JOB,
                period=today.isoformat(),
                scope=f"account:{counts.account_id}",
                now=now,
            ):
                continue
            account = db.get_one(Account, counts.account_id)
            enqueue_mail(
                db,
                organisation_id=organisation.id,
                recipient=account.email,
                template="daily_digest",
                context={
                    "today": today,
                    "overdue": counts.overdue,
                    "due_soon": counts.due_soon,
                    "days": DUE_SOON_DAYS,
                },
                now=now,
            )
            queued += 1
    return queued
