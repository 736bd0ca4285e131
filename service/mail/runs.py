"""Scheduled mailings that must happen once: a summary per month, a digest per person per day,
a report reminder per period. cron may run the commands as often as it likes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from service.models import MailRun


def claim_run(
    db: Session,
    *,
    organisation_id: int,
    job: str,
    period: str,
    scope: str = "",
    now: dt.datetime,
    force: bool = False,
) -> bool:
    """Record that this mailing happens now; False if it already happened (and not `force`).

    The record is committed with the mail it enqueues, in one transaction, so a mailing is
    recorded exactly when its mail is in the outbox. Two runs at once cannot both claim it: the
    second insert meets the unique key (and, on PostgreSQL, waits for the first transaction to
    finish).
    """
    dialect_insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted = db.execute(
        dialect_insert(MailRun)
        .values(
            organisation_id=organisation_id,
            job=job,
            period=period,
            scope=scope,
            runs=1,
            first_at=now,
            last_at=now,
        )
        .on_conflict_do_nothing()
        .returning(MailRun.id)
    ).first()
    if inserted is not None:
        return True
    if not force:
        return False
    db.execute(
        update(MailRun)
        .where(
            MailRun.organisation_id == organisation_id,
            MailRun.job == job,
            MailRun.period == period,
            MailRun.scope == scope,
        )
        .values(runs=MailRun.runs + 1, last_at=now)
    )
    return True


def run_count(db: Session, organisation_id: int, job: str, period: str, scope: str = "") -> int:
    """How many times a mailing happened (0: never)."""
    return (
        db.scalar(
            select(MailRun.runs).where(
                MailRun.organisation_id == organisation_id,
                MailRun.job == job,
                MailRun.period == period,
                MailRun.scope == scope,
            )
        )
        or 0
    )
