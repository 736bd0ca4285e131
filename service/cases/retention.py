"""Retention: a case in a final status keeps its content for a set time, then it is crypto-shredded.

Shredding removes everything a person wrote or uploaded — title, text, identity, exclusions,
message bodies, attachment chunks and their sealed names — and every key wrap, so nothing left
could open it even if a copy of the old ciphertext survived somewhere. What summaries and reports
count stays: kind, body, status, category, dates, deadlines, the number of messages and files.

On SQLite `secure_delete` is on (service/platform/db.py), so freed pages are zeroed, and `apply`
ends with a WAL checkpoint that truncates the log. On PostgreSQL old row versions stay in the
table files until VACUUM reclaims them; the README says how to run it after `retention apply`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from service.audit.trail import Actor, record_event
from service.models import (
    Attachment,
    AttachmentChunk,
    Case,
    CaseKeyWrap,
    CaseStatus,
    Message,
    Organisation,
    Publication,
    RetentionPeriod,
)
from service.platform.clock import local_today, utcnow
from service.platform.errors import InvalidSubmission
from service.platform.unit_of_work import commit_exception

# Statuses a retention period can be set for, and the day each is counted from.
FINAL_STATUSES = (CaseStatus.CLOSED, CaseStatus.NOT_ACCEPTED, CaseStatus.RESOLVED)
DEFAULT_MONTHS: dict[str, int | None] = {
    CaseStatus.CLOSED: 60,  # 5 years
    CaseStatus.NOT_ACCEPTED: 60,
    CaseStatus.RESOLVED: None,  # waits for the chair to close it
}
MAX_MONTHS = 1200


def seed_retention(db: Session, organisation: Organisation) -> None:
    for status, months in DEFAULT_MONTHS.items():
        db.add(RetentionPeriod(organisation_id=organisation.id, status=status, months=months))


def periods(db: Session, organisation_id: int) -> dict[str, int | None]:
    stored = {
        row.status: row.months
        for row in db.scalars(
            select(RetentionPeriod).where(RetentionPeriod.organisation_id == organisation_id)
        )
    }
    return {status: stored.get(status) for status in FINAL_STATUSES}


def set_period(
    db: Session,
    organisation_id: int,
    *,
    status: str,
    months: int | None,
    actor: Actor,
    now: dt.datetime | None = None,
) -> None:
    """Change one status's period (None: keep without limit); audited."""
    if status not in FINAL_STATUSES or (months is not None and not 1 <= months <= MAX_MONTHS):
        raise InvalidSubmission()
    row = db.scalar(
        select(RetentionPeriod).where(
            RetentionPeriod.organisation_id == organisation_id, RetentionPeriod.status == status
        )
    )
    if row is None:
        row = RetentionPeriod(organisation_id=organisation_id, status=status)
        db.add(row)
    if row.months == months and row.id is not None:
        return
    row.months = months
    record_event(
        db,
        organisation_id=organisation_id,
        action="admin.retention_changed",
        actor=actor,
        details={"status": status, "months": months},
        now=now,
    )


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (the month's last day if it is shorter)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - some day of every month exists


def counted_from(case: Case) -> dt.date | None:
    """The day a case's retention clock started: when it reached its final status."""
    if case.status == CaseStatus.CLOSED:
        return case.closed_on or case.decided_on
    if case.status in (CaseStatus.NOT_ACCEPTED, CaseStatus.RESOLVED):
        return case.decided_on
    return None


@dataclass(frozen=True)
class Expired:
    case_id: str
    reference: str
    status: str
    since: dt.date
    expired_on: dt.date
    months: int


def expired_cases(db: Session, organisation_id: int, today: dt.date) -> list[Expired]:
    """Cases whose retention period has run out and that still have their content."""
    limits = {status: months for status, months in periods(db, organisation_id).items() if months}
    if not limits:
        return []
    found = []
    query = (
        select(Case)
        .where(
            Case.organisation_id == organisation_id,
            Case.status.in_(list(limits)),
            Case.shredded_on.is_(None),
        )
        .order_by(Case.received_on, Case.reference)
    )
    for case in db.scalars(query):
        since = counted_from(case)
        if since is None:
            continue
        expires = add_months(since, limits[case.status])
        if expires <= today:
            found.append(
                Expired(case.id, case.reference, case.status, since, expires, limits[case.status])
            )
    return found


def shred_case(db: Session, expired: Expired, now: dt.datetime) -> None:
    """Remove the content and keys of one case, with its audit event (apply_retention commits)."""
    case = db.execute(select(Case).where(Case.id == expired.case_id).with_for_update()).scalar_one()
    if case.shredded_on is not None:
        return
    attachment_ids = select(Attachment.id).where(Attachment.case_id == case.id)
    db.execute(delete(AttachmentChunk).where(AttachmentChunk.attachment_id.in_(attachment_ids)))
    db.execute(
        update(Attachment)
        .where(Attachment.case_id == case.id)
        .values(meta_ct=b"", stream_header=b"")
    )
    db.execute(update(Message).where(Message.case_id == case.id).values(body_ct=b""))
    # A publication's sealed draft goes; an approved text stays: it was published by law.
    db.execute(update(Publication).where(Publication.case_id == case.id).values(draft_ct=b""))
    db.execute(delete(CaseKeyWrap).where(CaseKeyWrap.case_id == case.id))
    case.title_ct = b""
    case.text_ct = b""
    case.identity_ct = None
    case.exclusions_ct = b""
    case.notify_email_ct = None
    case.shredded_on = local_today(now)
    record_event(
        db,
        organisation_id=case.organisation_id,
        action="case.shredded",
        actor=Actor.system(),
        case_id=case.id,
        details={"status": expired.status, "months": expired.months},
        now=now,
    )


def apply_retention(
    db: Session,
    organisation_id: int,
    *,
    now: dt.datetime | None = None,
    progress: Callable[[Iterable[Expired]], Iterable[Expired]] = lambda items: items,
) -> list[Expired]:
    """Shred every expired case of the organisation, one transaction per case."""
    now = now or utcnow()
    expired = expired_cases(db, organisation_id, local_today(now))
    db.rollback()
    for item in progress(expired):
        shred_case(db, item, now)
        commit_exception(db, "retention-per-case")
    engine = db.get_bind().engine
    if expired and engine.dialect.name == "sqlite":
        # Old page images stay in the write-ahead log until a checkpoint empties it; outside
        # any transaction, on a raw connection (the engine's listener would begin one).
        raw = engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    return expired
