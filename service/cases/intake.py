"""Filing a report: encrypt on arrival, route, wrap the keys, issue the receipt.

`submit_case` is the one domain operation behind the reporter's form. It performs the single
slow Argon2id derivation of the new receipt while it writes the case, its key wraps, its
attachments and its notifications; its reference number and its audit event come last, just
before the one commit, so the rows they lock are held for milliseconds.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import CursorResult, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from service.audit.trail import Actor, record_event
from service.cases.casework import NOTIFY_EMAIL_FIELD
from service.cases.readers import HANDLER_ROLES, body_readers
from service.mail.outbox import (
    RenderedMail,
    enqueue_mail,
    enqueue_rendered,
    mail_settings,
    render_mail,
)
from service.models import (
    NAMED_ONLY_KINDS,
    Account,
    Author,
    Body,
    Case,
    CaseKeyWrap,
    CaseKind,
    CaseStatus,
    Category,
    KeyPurpose,
    Organisation,
    Priority,
    ReferenceCounter,
    Role,
    SpentFormToken,
    Track,
)
from service.platform.clock import local_today, utcnow
from service.platform.errors import InvalidSubmission
from service.rules.policy import eligible_bodies, route, schedule
from service.sealing import keyring, receipts
from service.sealing.casefiles import Upload, seal_json, seal_text, store_attachment


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
    # Optional: where to send a content-free "there is a reply" notice (sealed, never plain).
    notify_email: str | None = None


@dataclass(frozen=True)
class FiledCase:
    """What the reporter is shown once: the receipt exists nowhere else."""

    case: Case
    receipt: str
    # The body the reporter (or the routing table) chose, when everyone there was excluded
    # and another body received the case instead: the receipt page says so.
    rerouted_from: Body | None = None


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
                Account.role.in_(HANDLER_ROLES),
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
    """Allocate the body's next number for `year`: one atomic upsert, safe under concurrency."""
    dialect_insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(ReferenceCounter).values(body_id=body.id, year=year, last=1)
    number = db.execute(
        statement.on_conflict_do_update(
            index_elements=[ReferenceCounter.body_id, ReferenceCounter.year],
            set_={"last": ReferenceCounter.last + 1},
        ).returning(ReferenceCounter.last)
    ).scalar_one()
    return f"{body.code}-{year}-{number:04d}"


def spend_form_token(db: Session, token_hash: str, purge_after: dt.date) -> bool:
    """Record a report form as sent; False if it was sent already (then file nothing).

    One atomic insert in the filing's own transaction, so the case and its spent token commit
    together or not at all. A second sending of the same form at the same moment waits, on
    PostgreSQL, for the first to commit and then finds the row; SQLite's writers take turns.
    """
    dialect_insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        dialect_insert(SpentFormToken)
        .values(id=token_hash, purge_after=purge_after)
        .on_conflict_do_nothing(index_elements=[SpentFormToken.id])
        .returning(SpentFormToken.id)
    )
    return db.execute(statement).scalar_one_or_none() is not None


def purge_spent_form_tokens(db: Session, today: dt.date | None = None) -> int:
    """Forget spent tokens past their purge day (by then their forms are refused as too old)."""
    result = db.execute(
        delete(SpentFormToken).where(SpentFormToken.purge_after < (today or local_today()))
    )
    return cast("CursorResult[Any]", result).rowcount


class PendingReceipt:
    """A new receipt whose one Argon2id derivation is already running on a worker thread.

    The derivation is the whole cost of a filing, and Argon2id releases the GIL: started as
    soon as a filing arrives, it runs while the form is validated and the case is routed,
    sealed and wrapped. If the filing is refused, the derivation finishes and is forgotten.

    Pass the application's executor (`app.extensions["homthu.receipts"]`): its few long-lived
    threads keep their 19 MiB of Argon2id memory mapped and warm, where a new thread would take
    thousands of page faults first, and they bound how many derivations a process runs at once.
    Without one, a thread is started for this receipt alone.
    """

    def __init__(self, organisation: Organisation, executor: Executor | None = None) -> None:
        self.receipt = receipts.new_receipt()
        salt, profile = organisation.receipt_salt, receipts.receipt_profile(organisation)
        running = threading.Event()

        def derive() -> receipts.ReporterKeys:
            running.set()
            return receipts.derive_reporter_keys(self.receipt, salt, profile)

        one_off = None
        if executor is None:
            executor = one_off = ThreadPoolExecutor(max_workers=1, thread_name_prefix="receipt")
        self._keys = executor.submit(derive)
        if one_off is not None:
            one_off.shutdown(wait=False)  # its thread ends with the derivation
        # Let the worker take the GIL and reach Argon2id (which releases it) before this thread
        # goes on: otherwise it would wait out the interpreter's 5 ms switch interval first.
        running.wait()

    def keys(self) -> receipts.ReporterKeys:
        return self._keys.result()


@dataclass
class _Prepared:
    """Everything about a new case that does not depend on the receipt's derivation."""

    case: Case
    keys: keyring.CaseKeys
    body: Body
    readers: list[Account]
    wraps: list[CaseKeyWrap]
    mail: RenderedMail
    rerouted_from: Body | None = None


def submit_case(
    db: Session,
    organisation: Organisation,
    submission: Submission,
    now: dt.datetime | None = None,
    pending: PendingReceipt | None = None,
) -> FiledCase:
    """File a report; return the case and its receipt (shown to the reporter once).

    While the receipt's derivation runs (see PendingReceipt; pass one started earlier to
    overlap more), this validates, routes, seals, wraps and writes the case, its files and its
    mail; only the lookup id and the reporter's wrap wait for it. The two rows every filing to
    the body (and every change in the organisation) must take turns on — the body's reference
    counter and the audit chain's head — are written last (`_number_and_record`), after the
    derivation and the files, so their locks are held only from there to the commit: a large
    upload no longer makes other filings to its body wait. All of it is one transaction:
    nothing is committed before the receipt's keys and the reference are in place.
    """
    now = now or utcnow()
    pending = pending or PendingReceipt(organisation)
    prepared = _prepare(db, organisation, submission, now)
    case = prepared.case
    _write_case(db, organisation, submission, prepared, now)
    reporter = pending.keys()
    case.lookup_id = reporter.lookup_id
    case.reporter_public_key = reporter.public_key
    db.add(keyring.wrap_for_reporter(case.id, prepared.keys, reporter.public_key))
    db.flush()  # everything slow is written before a shared row is touched
    _number_and_record(db, organisation, prepared.body, case, len(submission.attachments), now)
    return FiledCase(case, pending.receipt, prepared.rerouted_from)


def _write_case(
    db: Session,
    organisation: Organisation,
    submission: Submission,
    prepared: _Prepared,
    now: dt.datetime,
) -> None:
    """The case with stand-ins, its wraps, sealed files and mail: rows no other filing needs."""
    case = prepared.case
    # Stand-ins until the derivation ends and the number is taken, so the case, its wraps,
    # files and mail can be written meanwhile; all three are replaced before anything is
    # committed. The case's own id cannot collide with any reference (they contain a "-").
    case.reference = case.id
    case.lookup_id = secrets.token_bytes(32)
    case.reporter_public_key = bytes(32)
    db.add(case)
    db.add_all(prepared.wraps)
    db.flush()  # the wraps and file chunks refer to the case
    for position, upload in enumerate(submission.attachments):
        store_attachment(
            db,
            case_id=case.id,
            case_key=prepared.keys.case,
            upload=upload,
            author=Author.REPORTER,
            position=position,
            uploaded_on=case.received_on,
        )
    for account in prepared.readers:
        enqueue_rendered(
            db,
            organisation_id=organisation.id,
            recipient=account.email,
            mail=prepared.mail,
            now=now,
            reporter_action=True,
        )


def _number_and_record(
    db: Session, organisation: Organisation, body: Body, case: Case, files: int, now: dt.datetime
) -> None:
    """The last writes of a filing: its reference, then its audit event.

    Each locks a shared row (the body's counter, the organisation's audit head) until the
    commit, so nothing slow may follow them: the caller only renders the receipt page. Taken
    in the transaction, a number is given back if the filing rolls back — no gap is left —
    and the counter is locked before the head, in the same order as before (no deadlock).
    """
    case.reference = next_reference(db, body, case.received_on.year)
    record_event(
        db,
        organisation_id=organisation.id,
        action="case.submitted",
        actor=Actor.reporter(),
        case_id=case.id,
        details={"reference": case.reference, "attachments": files},
        now=now,
    )
    db.flush()


def _prepare(
    db: Session, organisation: Organisation, submission: Submission, now: dt.datetime
) -> _Prepared:
    """Validate, route, seal and wrap: the work that overlaps the receipt's derivation.

    Nothing is added to the session here, so no query can flush a half-built case.
    """
    body, readers, rerouted_from = receiving_body(db, organisation, submission)
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
        kind=submission.kind,
        category_id=submission.category_id,
        concerns_head_of_unit=submission.concerns_head_of_unit,
        status=CaseStatus.NEW,
        track=Track.INFORMATION
        if anonymous and submission.kind in NAMED_ONLY_KINDS
        else Track.FORMAL,
        anonymous=anonymous,
        received_on=today,
        reporter_kdf=organisation.receipt_kdf,
        title_ct=seal_text(keys.case, case_id, "title", submission.title),
        text_ct=seal_text(keys.case, case_id, "text", submission.text),
        # Not anonymous: the identity and its key are set. generate() always makes a staff key.
        identity_ct=None
        if anonymous
        else seal_json(keys.identity, case_id, "identity", submission.identity.as_dict()),  # type: ignore[arg-type,union-attr]
        exclusions_ct=seal_json(
            keys.staff,  # type: ignore[arg-type]
            case_id,
            "exclusions",
            sorted(submission.excluded_account_ids),
        ),
        priority=Priority.NORMAL,
        transfer_count=0,
        reopen_count=0,
        extensions=0,
    )
    if submission.notify_email:
        case.notify_email_ct = seal_text(
            keys.case, case_id, NOTIFY_EMAIL_FIELD, submission.notify_email
        )
    schedule(db, case)
    return _Prepared(
        case=case,
        keys=keys,
        body=body,
        readers=readers,
        wraps=_staff_wraps(case, keys, readers, body),
        mail=render_mail(
            "new_case", {"organisation": organisation}, base_url=mail_settings(db).public_base_url
        ),
        rerouted_from=rerouted_from,
    )


def _staff_wraps(
    case: Case, keys: keyring.CaseKeys, readers: list[Account], body: Body
) -> list[CaseKeyWrap]:
    """Handlers get the case and staff keys; chairs also the identity key (custody)."""
    wraps = []
    for account in readers:
        purposes: tuple[KeyPurpose, ...] = (KeyPurpose.CASE, KeyPurpose.STAFF)
        if account.is_chair:
            purposes += (KeyPurpose.IDENTITY,)
        wraps += keyring.wraps_for_account(case.id, keys, account, purposes, case=case)
    return wraps + keyring.wraps_for_recovery(case.id, keys, body)


def receiving_body(
    db: Session, organisation: Organisation, submission: Submission
) -> tuple[Body, list[Account], Body | None]:
    """The body that receives the case, its readers, and the body chosen first if that changed.

    If the reporter excluded every handler of the chosen body, the next eligible body with a
    handler left receives the case instead (never the head of unit for a case about them).
    """
    body = choose_body(db, organisation, submission)
    excluded = submission.excluded_account_ids
    readers = body_readers(db, body.id, excluded)
    if readers or not excluded or not body_readers(db, body.id):
        return body, readers, None
    for other in active_bodies(
        db, organisation, concerns_head_of_unit=submission.concerns_head_of_unit
    ):
        if other.id != body.id and (other_readers := body_readers(db, other.id, excluded)):
            return other, other_readers, body
    raise InvalidSubmission(
        _l("You have excluded everyone who could receive this report. Untick at least one person.")
    )


def warn_of_unusual_volume(
    db: Session, organisation: Organisation, per_day: int, now: dt.datetime | None = None
) -> int:
    """Mail the organisation's active administrators that more than `per_day` reports came in
    today (the caller decides when: service/web/limits.py). Reporters are never refused for
    it; a flood from a bot is for a person to judge. Return how many mails were queued.

    A reporter's action causes it, so it leaves at the notify hours like every such mail: its
    time says nothing about which filing crossed the line."""
    now = now or utcnow()
    admins = db.scalars(
        select(Account).where(
            Account.organisation_id == organisation.id,
            Account.role == Role.ADMIN,
            Account.active.is_(True),
        )
    ).all()
    for admin in admins:
        enqueue_mail(
            db,
            organisation_id=organisation.id,
            recipient=admin.email,
            template="unusual_volume",
            context={"per_day": per_day},
            now=now,
            reporter_action=True,
        )
    return len(admins)
