"""People come and go; cases stay readable by the right people and no one else (DESIGN.md §6–7).

- `grant_access`: a handler or chair who holds a case's keys wraps them for a colleague of the
  same body. Nothing is re-encrypted but the wraps.
- `recover_access`: the body's paper recovery key does the same for every case of the body.
- `deactivate_account`: the wraps of a person who leaves are removed, their sessions ended,
  their cases unassigned, and the chairs warned of any open case that no one can read any more.

A reporter's exclusions are honoured every time: they are sealed under the case's STAFF key, so
whoever grants opens them first. The IDENTITY key goes only to chairs (identity custody).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, and_, delete, exists, select
from sqlalchemy.orm import Session

from service.audit.trail import Actor, record_event
from service.cases.readers import HANDLER_ROLES, body_readers
from service.mail.outbox import enqueue_mail
from service.models import (
    OPEN_STATUSES,
    Account,
    Body,
    Case,
    CaseKeyWrap,
    KeyPurpose,
    Role,
)
from service.people import sessions
from service.people.principal import Principal
from service.platform.clock import utcnow
from service.platform.errors import InvalidSubmission, KeyUnavailable, NotFound, WrongRecoveryCode
from service.sealing import SealingError, keyring, recovery
from service.sealing.casefiles import open_json


@dataclass(frozen=True)
class GrantResult:
    granted: int = 0  # cases the grantee can read now and could not before
    excluded: int = 0  # skipped: the reporter excluded the grantee
    already: int = 0  # the grantee held the keys already


def excluded_ids(case: Case, keys: keyring.CaseKeys) -> set[int]:
    """The accounts the reporter excluded from this case (opened with its STAFF key)."""
    if keys.staff is None:
        raise InvalidSubmission()
    return set(open_json(keys.staff, case.id, "exclusions", case.exclusions_ct))


def purposes_for(account: Account) -> tuple[KeyPurpose, ...]:
    if account.is_chair:
        return (KeyPurpose.CASE, KeyPurpose.STAFF, KeyPurpose.IDENTITY)
    return (KeyPurpose.CASE, KeyPurpose.STAFF)


def _rewrap(
    db: Session, case: Case, keys: keyring.CaseKeys, grantee: Account
) -> tuple[str, tuple[str, ...]]:
    """Wrap the keys the grantee should hold and lacks: ("granted" | "excluded" | "already")."""
    if grantee.id in excluded_ids(case, keys):
        return "excluded", ()
    held = keyring.held_purposes(db, case.id, grantee.id)
    missing = tuple(p for p in purposes_for(grantee) if p not in held and keys.get(p) is not None)
    if not missing:
        return "already", ()
    keyring.wrap_for_account(db, case.id, keys, grantee, missing)
    return ("granted" if KeyPurpose.CASE not in held else "already"), missing


def _tally(result: GrantResult, outcome: str) -> GrantResult:
    counts = {
        "granted": result.granted,
        "excluded": result.excluded,
        "already": result.already,
    }
    counts[outcome] += 1
    return GrantResult(**counts)


def _grant_each(
    db: Session,
    cases: Iterable[Case],
    open_keys: Callable[[Case], keyring.CaseKeys],
    *,
    grantee: Account,
    actor: Actor,
    action: str,
    now: dt.datetime,
) -> GrantResult:
    """Wrap each case's keys for `grantee` with keys opened by `open_keys`; one event per case.

    A case whose keys the opener does not hold is skipped. A handler never receives the
    IDENTITY key here (only a chair does: identity custody).
    """
    result = GrantResult()
    for case in cases:
        try:
            keys = open_keys(case)
        except KeyUnavailable:
            continue
        if not grantee.is_chair:
            keys = keyring.CaseKeys(case=keys.case, staff=keys.staff)
        outcome, purposes = _rewrap(db, case, keys, grantee)
        result = _tally(result, outcome)
        if purposes:
            record_event(
                db,
                organisation_id=case.organisation_id,
                action=action,
                actor=actor,
                case_id=case.id,
                details={"grantee": grantee.id, "keys": sorted(purposes)},
                now=now,
            )
    return result


def colleague(db: Session, account: Account, colleague_id: int) -> Account:
    """An active handler or chair of the same body (not the account itself), else NotFound."""
    other = db.get(Account, colleague_id)
    if (
        other is None
        or other.id == account.id
        or not other.active
        or other.role not in HANDLER_ROLES
        or other.organisation_id != account.organisation_id
        or other.body_id != account.body_id
    ):
        raise NotFound()
    return other


def colleagues(db: Session, account: Account) -> list[tuple[Account, int]]:
    """The account's active colleagues with how many of the body's open cases each can read."""
    readable = (
        select(CaseKeyWrap.account_id, Case.id)
        .join(Case, Case.id == CaseKeyWrap.case_id)
        .where(
            Case.body_id == account.body_id,
            Case.status.in_(list(OPEN_STATUSES)),
            CaseKeyWrap.purpose == KeyPurpose.CASE,
        )
    )
    counts: dict[int | None, int] = {}
    for account_id, _case in db.execute(readable):
        counts[account_id] = counts.get(account_id, 0) + 1
    if account.body_id is None:  # an administrator has no colleagues in a body
        return []
    people = body_readers(db, account.body_id, {account.id})
    return [(person, counts.get(person.id, 0)) for person in people]


def grant_access(
    db: Session, principal: Principal, *, grantee_id: int, now: dt.datetime | None = None
) -> GrantResult:
    """Give a colleague the keys of every open case of the body that the granter holds.

    Cases the reporter excluded the colleague from are skipped (the granter opens the sealed
    exclusions with the STAFF key). The IDENTITY key passes only from a chair to a chair; for
    a handler, the identity is revealed case by case by the chair's explicit grant.
    """
    now = now or utcnow()
    granter = principal.account
    if not granter.active or granter.role not in HANDLER_ROLES:
        raise NotFound()
    grantee = colleague(db, granter, grantee_id)
    held_cases = db.scalars(
        select(Case)
        .join(
            CaseKeyWrap,
            and_(
                CaseKeyWrap.case_id == Case.id,
                CaseKeyWrap.account_id == granter.id,
                CaseKeyWrap.purpose == KeyPurpose.CASE,
            ),
        )
        .where(
            Case.body_id == granter.body_id,
            Case.status.in_(list(OPEN_STATUSES)),
            Case.shredded_on.is_(None),
        )
        .order_by(Case.received_on)
    ).all()
    result = _grant_each(
        db,
        held_cases,
        lambda case: keyring.open_case_keys_for_account(db, case, granter, principal.private_key),
        grantee=grantee,
        actor=Actor.staff(granter),
        action="case.access_granted",
        now=now,
    )
    record_event(
        db,
        organisation_id=granter.organisation_id,
        action="staff.access_granted",
        actor=Actor.staff(granter),
        details={"grantee": grantee.id, "granted": result.granted, "excluded": result.excluded},
        now=now,
    )
    if result.granted:
        enqueue_mail(
            db,
            organisation_id=granter.organisation_id,
            recipient=grantee.email,
            template="access_granted",
            now=now,
        )
    return result


# --- the paper recovery key ----------------------------------------------------------------


def check_recovery_code(body: Body, code: str) -> bytes:
    """The body's recovery private key from its typed code; WrongRecoveryCode otherwise."""
    try:
        return recovery.open_paper_code(code, body.recovery_public_key)
    except SealingError:
        raise WrongRecoveryCode() from None


def recover_access(
    db: Session,
    body: Body,
    recovery_private: bytes,
    grantee: Account,
    *,
    now: dt.datetime | None = None,
    progress: Callable[[Sequence[Case]], Iterable[Case]] = lambda cases: cases,
) -> GrantResult:
    """Re-grant every case of the body to `grantee` with the body's recovery key; audited.

    Every case that still has its content, whatever its status: the grantee may hold what any
    handler of the body may hold (exclusions honoured; IDENTITY only to a chair).
    """
    now = now or utcnow()
    if (
        not grantee.active
        or grantee.role not in HANDLER_ROLES
        or grantee.body_id != body.id
        or grantee.organisation_id != body.organisation_id
    ):
        raise InvalidSubmission()
    cases = db.scalars(
        select(Case)
        .where(Case.body_id == body.id, Case.shredded_on.is_(None))
        .order_by(Case.received_on, Case.reference)
    ).all()
    result = _grant_each(
        db,
        progress(cases),
        lambda case: keyring.open_case_keys_with_recovery(db, case, recovery_private),
        grantee=grantee,
        actor=Actor.system(),
        action="case.access_recovered",
        now=now,
    )
    record_event(
        db,
        organisation_id=body.organisation_id,
        action="keys.recovery_used",
        actor=Actor.system(),
        details={
            "body": body.code,
            "grantee": grantee.id,
            "granted": result.granted,
            "excluded": result.excluded,
        },
        now=now,
    )
    return result


# --- leaving -------------------------------------------------------------------------------


def unreadable_cases(db: Session, body_id: int) -> list[Case]:
    """Open cases of the body that no active handler or chair of it can read any more."""
    readable = exists().where(
        CaseKeyWrap.case_id == Case.id,
        CaseKeyWrap.purpose == KeyPurpose.CASE,
        CaseKeyWrap.account_id == Account.id,
        Account.active.is_(True),
        Account.body_id == Case.body_id,
    )
    return list(
        db.scalars(
            select(Case)
            .where(
                Case.body_id == body_id,
                Case.status.in_(list(OPEN_STATUSES)),
                Case.shredded_on.is_(None),
                ~readable,
            )
            .order_by(Case.received_on)
        )
    )


def warn_chairs(db: Session, body_id: int, now: dt.datetime) -> int:
    """Mail the body's chairs if some open case can no longer be read; return how many."""
    count = len(unreadable_cases(db, body_id))
    if count:
        chairs = db.scalars(
            select(Account).where(
                Account.body_id == body_id,
                Account.role == Role.CHAIR,
                Account.active.is_(True),
            )
        )
        body = db.get_one(Body, body_id)
        for chair in chairs:
            enqueue_mail(
                db,
                organisation_id=body.organisation_id,
                recipient=chair.email,
                template="cases_without_reader",
                context={"count": count},
                now=now,
            )
    return count


@dataclass(frozen=True)
class Departure:
    account: Account
    wraps_removed: int
    unassigned: int
    unreadable: int  # open cases of the body that no active member can read now


def remove_access(
    db: Session, account: Account, actor: Actor, now: dt.datetime, *, unassign: bool = True
) -> tuple[int, int]:
    """Delete the account's wraps and unassign its cases (no commit): (wraps, cases)."""
    deleted = db.execute(delete(CaseKeyWrap).where(CaseKeyWrap.account_id == account.id))
    wraps = cast("CursorResult[Any]", deleted).rowcount
    if not unassign:
        return wraps or 0, 0
    assigned = db.scalars(select(Case).where(Case.assignee_id == account.id)).all()
    for case in assigned:
        case.assignee_id = None
        record_event(
            db,
            organisation_id=case.organisation_id,
            action="case.unassigned",
            actor=actor,
            case_id=case.id,
            details={"former_assignee": account.id},
            now=now,
        )
    return wraps or 0, len(assigned)


def deactivate_account(
    db: Session, admin: Account, account_id: int, now: dt.datetime | None = None
) -> Departure:
    """Someone leaves: no wraps, no sessions, no assigned cases; chairs warned if needed."""
    now = now or utcnow()
    account = db.get(Account, account_id)
    if account is None or account.organisation_id != admin.organisation_id:
        raise NotFound()
    if account.id == admin.id:
        raise InvalidSubmission()
    if not account.active:
        return Departure(account, 0, 0, 0)
    account.active = False
    actor = Actor.staff(admin)
    wraps, unassigned = remove_access(db, account, actor, now)
    sessions.end_all_staff_sessions(db, account.id, sessions.DEACTIVATED)
    unreadable = warn_chairs(db, account.body_id, now) if account.body_id else 0
    record_event(
        db,
        organisation_id=account.organisation_id,
        action="account.deactivated",
        actor=actor,
        details={
            "account": account.id,
            "wraps_removed": wraps,
            "unassigned": unassigned,
            "unreadable": unreadable,
        },
        now=now,
    )
    return Departure(account, wraps, unassigned, unreadable)
