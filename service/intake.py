"""Filing a report: encrypt on arrival, route, wrap the keys, issue the receipt.

`submit_case` is the one domain operation behind the reporter's form. It performs the single
slow Argon2id derivation of the new receipt before touching the database, then writes the case,
its key wraps, its attachments, its audit event and its notifications in one transaction.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

import crypto

from . import keyring
from .audit import Actor, record_event
from .casefiles import Upload, seal_json, seal_text, store_attachment
from .clock import local_today, utcnow
from .errors import InvalidSubmission
from .models import (
    NAMED_ONLY_KINDS,
    Account,
    Author,
    Body,
    Case,
    CaseKind,
    CaseStatus,
    Category,
    KeyPurpose,
    Organisation,
    ReferenceCounter,
    Role,
    Track,
)
from .outbox import enqueue_mail
from .rules import eligible_bodies, route, schedule


@dataclass(frozen=True)
class Identity:
    """A named reporter's identity and contact, sealed under the case's IDENTITY key."""

    name: str
    department: str
    contact: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "department": self.department, "contact": self.contact}


@dataclass(frozen=True)
class Submission:
    kind: CaseKind
    title: str
    text: str
    body_id: int | None = None  # None: let the system choose
    category_id: int | None = None
    concerns_head_of_unit: bool = False
    identity: Identity | None = None  # None: anonymous
    excluded_account_ids: frozenset[int] = frozenset()
    attachments: Sequence[Upload] = field(default_factory=tuple)


@dataclass(frozen=True)
class FiledCase:
    """What the reporter is shown once: the receipt exists nowhere else."""

    case: Case
    receipt: str


def active_bodies(
    db: Session, organisation: Organisation, *, concerns_head_of_unit: bool = False
) -> list[Body]:
    return eligible_bodies(db, organisation, concerns_head_of_unit=concerns_head_of_unit)


def handlers_of(db: Session, organisation: Organisation) -> list[Account]:
    """Every active handler and chair: the people a reporter may exclude."""
    return list(
        db.scalars(
            select(Account)
            .where(
                Account.organisation_id == organisation.id,
                Account.active.is_(True),
                Account.role.in_([Role.HANDLER, Role.CHAIR]),
            )
            .order_by(Account.body_id, Account.display_name)
        )
    )


def choose_body(db: Session, organisation: Organisation, submission: Submission) -> Body:
    """The reporter's choice if it is allowed, else the routing table's."""
    if submission.body_id is None:
        return route(
            db,
            organisation,
            submission.kind,
            submission.category_id,
            concerns_head_of_unit=submission.concerns_head_of_unit,
        )
    allowed = active_bodies(
        db, organisation, concerns_head_of_unit=submission.concerns_head_of_unit
    )
    for body in allowed:
        if body.id == submission.body_id:
            return body
    raise InvalidSubmission()


def _validate_category(db: Session, organisation: Organisation, submission: Submission) -> None:
    if submission.category_id is None:
        return
    category = db.get(Category, submission.category_id)
    if category is None or category.organisation_id != organisation.id or not category.active:
        raise InvalidSubmission()


def _validate_exclusions(db: Session, organisation: Organisation, submission: Submission) -> None:
    """A reporter may exclude only people who handle cases in this organisation."""
    known = {account.id for account in handlers_of(db, organisation)}
    if not submission.excluded_account_ids <= known:
        raise InvalidSubmission()


def next_reference(db: Session, body: Body, year: int) -> str:
    """Allocate the body's next number for `year`, safely under concurrent submissions."""
    dialect_insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.execute(
        dialect_insert(ReferenceCounter)
        .values(body_id=body.id, year=year, last=0)
        .on_conflict_do_nothing()
    )
    counter = db.execute(
        select(ReferenceCounter)
        .where(ReferenceCounter.body_id == body.id, ReferenceCounter.year == year)
        .with_for_update()
    ).scalar_one()
    counter.last += 1
    return f"{body.code}-{year}-{counter.last:04d}"


def _readers(db: Session, body: Body, excluded: frozenset[int]) -> list[Account]:
    """The accounts of `body` that may read the case: every active handler not excluded."""
    return [
        account
        for account in db.scalars(
            select(Account).where(
                Account.body_id == body.id,
                Account.active.is_(True),
                Account.role.in_([Role.HANDLER, Role.CHAIR]),
            )
        )
        if account.id not in excluded
    ]


def submit_case(
    db: Session,
    organisation: Organisation,
    submission: Submission,
    now: dt.datetime | None = None,
) -> FiledCase:
    """File a report; return the case and its receipt (shown to the reporter once)."""
    now = now or utcnow()
    receipt = crypto.new_receipt()
    profile = crypto.KdfProfile.decode(organisation.receipt_kdf)
    reporter = crypto.derive_reporter_keys(receipt, organisation.receipt_salt, profile)

    body = choose_body(db, organisation, submission)
    _validate_category(db, organisation, submission)
    _validate_exclusions(db, organisation, submission)
    today = local_today(now)
    case_id = secrets.token_hex(16)
    anonymous = submission.identity is None
    keys = keyring.CaseKeys.generate(with_identity=not anonymous)
    case = Case(
        id=case_id,
        organisation_id=organisation.id,
        body_id=body.id,
        reference=next_reference(db, body, today.year),
        kind=submission.kind,
        category_id=submission.category_id,
        concerns_head_of_unit=submission.concerns_head_of_unit,
        status=CaseStatus.NEW,
        track=Track.INFORMATION
        if anonymous and submission.kind in NAMED_ONLY_KINDS
        else Track.FORMAL,
        anonymous=anonymous,
        received_on=today,
        lookup_id=reporter.lookup_id,
        reporter_public_key=reporter.public_key,
        reporter_kdf=organisation.receipt_kdf,
        title_ct=seal_text(keys.case, case_id, "title", submission.title),
        text_ct=seal_text(keys.case, case_id, "text", submission.text),
        identity_ct=None
        if anonymous
        else seal_json(keys.identity, case_id, "identity", submission.identity.as_dict()),
        exclusions_ct=seal_json(
            keys.staff, case_id, "exclusions", sorted(submission.excluded_account_ids)
        ),
    )
    schedule(db, case)
    db.add(case)
    readers = _readers(db, body, submission.excluded_account_ids)
    _wrap_keys(db, case, keys, readers, body, reporter.public_key)
    db.flush()
    for position, upload in enumerate(submission.attachments):
        store_attachment(
            db,
            case_id=case_id,
            case_key=keys.case,
            upload=upload,
            author=Author.REPORTER,
            position=position,
            uploaded_on=today,
        )
    record_event(
        db,
        organisation_id=organisation.id,
        action="case.submitted",
        actor=Actor.reporter(),
        case_id=case_id,
        details={"reference": case.reference, "attachments": len(submission.attachments)},
        now=now,
    )
    for account in readers:
        enqueue_mail(
            db,
            organisation_id=organisation.id,
            recipient=account.email,
            template="new_case",
            context={"organisation": organisation},
            now=now,
            reporter_action=True,
        )
    db.commit()
    return FiledCase(case, receipt)


def _wrap_keys(
    db: Session,
    case: Case,
    keys: keyring.CaseKeys,
    readers: list[Account],
    body: Body,
    reporter_public: bytes,
) -> None:
    """Handlers get the case and staff keys; chairs also the identity key (custody)."""
    for account in readers:
        purposes = (KeyPurpose.CASE, KeyPurpose.STAFF)
        if account.is_chair:
            purposes += (KeyPurpose.IDENTITY,)
        keyring.wrap_for_account(db, case.id, keys, account, purposes)
    keyring.wrap_for_recovery(db, case.id, keys, body)
    keyring.wrap_for_reporter(db, case.id, keys, reporter_public)
