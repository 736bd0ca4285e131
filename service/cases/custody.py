"""Who holds a case's keys as it moves: transfer to another body, recusal, identity grants.

Nothing is re-encrypted: a person who holds the keys unwraps them with their own private key
and wraps them for the new recipients (DESIGN.md, "Transfer and new handlers"). Removing a wrap
is what takes access away; the domain checks follow the wraps.

Transfer (chuyển đơn). The transferring handler unwraps the case's CASE, STAFF and (for a named
report) IDENTITY keys and wraps them for every active handler of the receiving body whom the
reporter did not exclude (the exclusions are opened with the STAFF key), IDENTITY only for its
chairs, and all of them for its recovery key. Every key of the sending body goes: its handlers'
and its recovery key's. With `keep_access` the transferring handler alone keeps their wraps, and
with them the right to READ the case (never to act on it: `casework.acting_case` refuses), which
is what a handler needs to answer for what they did; nobody else of the sending body keeps
anything. A named report can only be transferred by someone holding its identity key (the chair),
so that the receiving chair gets the identity too. The case becomes TRANSFERRED (through
`lifecycle.move`, like every status change) and the receiving body acknowledges it like a new
one: the transfer row of the table restarts its clocks from the day of the transfer.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.trail import Actor, record_event
from service.cases.casework import acting_case, add_message, handler_case, looks_like_case_id
from service.cases.handover import excluded_ids, purposes_for
from service.cases.lifecycle import (
    Action,
    Outcome,
    RoleNotPermitted,
    check_transition,
    lock_case,
    move,
)
from service.cases.readers import HANDLER_ROLES, body_readers
from service.mail.outbox import enqueue_mail
from service.models import (
    Account,
    AuditEvent,
    Author,
    Body,
    BodyKind,
    Case,
    CaseKeyWrap,
    KeyPurpose,
    MessageKind,
    Role,
)
from service.people.principal import Principal
from service.platform.clock import utcnow
from service.platform.errors import (
    AccessDenied,
    DomainError,
    InvalidSubmission,
    KeyUnavailable,
    NotFound,
)
from service.sealing import keyring


class HeadOfUnitRefused(DomainError):
    status_code = 409
    default_message = _l(
        "A report that concerns the head of the unit cannot be sent to the head of the unit "
        "(Law on Denunciations, Art. 18)."
    )


class NoEligibleReader(DomainError):
    status_code = 409
    default_message = _l(
        "Nobody at that body may receive this report: the reporter excluded its members, or it "
        "has no handlers yet."
    )


class IdentityCustodyRequired(AccessDenied):
    default_message = _l(
        "This report carries the reporter's name, which only the chair holds. Ask the chair to "
        "transfer it, so that the receiving body's chair receives the name too."
    )


# --- who may receive a case ------------------------------------------------------------------


def transfer_targets(db: Session, case: Case) -> list[Body]:
    """The bodies this case may be transferred to: active, not its own, never the head of
    unit for a case that concerns them."""
    query = select(Body).where(
        Body.organisation_id == case.organisation_id,
        Body.active.is_(True),
        Body.id != case.body_id,
    )
    if case.concerns_head_of_unit:
        query = query.where(Body.kind != BodyKind.HEAD_OF_UNIT)
    return list(db.scalars(query.order_by(Body.position, Body.id)))


def _done_before(db: Session, account: Account, case_id: str, action: str) -> Case | None:
    """The case, if `account` can no longer act on it because they themselves did `action` to
    it — the same form sent again from a second tab, after access went with the first."""
    case = db.get(Case, case_id) if looks_like_case_id(case_id) else None
    done = case is not None and db.scalar(
        select(AuditEvent.id)
        .where(
            AuditEvent.case_id == case.id,
            AuditEvent.action == action,
            AuditEvent.actor_id == account.id,
        )
        .limit(1)
    )
    return case if done else None


# --- transfer --------------------------------------------------------------------------------


def transfer_case(
    db: Session,
    principal: Principal,
    case_id: str,
    *,
    to_body_id: int,
    keep_access: bool,
    reason: str,
    now: dt.datetime | None = None,
) -> Outcome:
    """Chuyển đơn: hand the case to another body (see the module's docstring).

    The reason is an internal note (STAFF key), which the receiving body reads; the audit event
    says only from which body to which, and whether access was kept.
    """
    now = now or utcnow()
    account = principal.account
    if account.role not in HANDLER_ROLES:
        raise RoleNotPermitted()
    try:
        case = acting_case(db, account, case_id)
    except (NotFound, AccessDenied):
        moved = _done_before(db, account, case_id, "case.transferred")
        if moved is not None and moved.body_id == to_body_id:
            return Outcome(moved, False)
        raise
    if not reason.strip():
        raise InvalidSubmission()
    case = lock_case(db, case)
    check_transition(case, Action.TRANSFER, account.role)
    target = db.get(Body, to_body_id)
    if (
        target is None
        or target.organisation_id != case.organisation_id
        or not target.active
        or target.id == case.body_id
    ):
        raise InvalidSubmission()
    if case.concerns_head_of_unit and target.kind == BodyKind.HEAD_OF_UNIT:
        raise HeadOfUnitRefused()

    keys = keyring.open_case_keys_for_account(db, case, account, principal.private_key)
    if case.identity_ct is not None and keys.identity is None:
        raise IdentityCustodyRequired()
    readers = body_readers(db, target.id, excluded_ids(case, keys))
    if not readers:
        raise NoEligibleReader()

    add_message(
        db,
        case,
        keys,
        author=Author.STAFF,
        account=account,
        text=reason,
        now=now,
        kind=MessageKind.NOTE,
    )
    source = case.body
    keyring.remove_account_wraps(db, case.id, keep_account_id=account.id if keep_access else None)
    if keep_access:  # read only, and no longer listed under the body's statuses
        keyring.unlist_for(db, case.id, account.id)
    case.body_id, case.body = target.id, target
    case.assignee_id = None
    # The status, the transfer count, the restarted clocks and the audit event; the receiving
    # body's wraps below are written with the new status.
    move(
        db,
        case,
        Action.TRANSFER,
        actor=Actor.staff(account),
        now=now,
        details={"from": source.code, "to": target.code, "keep_access": keep_access},
    )
    for reader in readers:
        keyring.wrap_for_account(db, case.id, keys, reader, purposes_for(reader), case=case)
    db.add_all(keyring.wraps_for_recovery(case.id, keys, target))
    for reader in readers:
        enqueue_mail(
            db,
            organisation_id=case.organisation_id,
            recipient=reader.email,
            template="new_case",
            context={"organisation": case.body.organisation},
            now=now,
        )
    return Outcome(case, True)


# --- recusal ---------------------------------------------------------------------------------


def recuse_case(
    db: Session, account: Account, case_id: str, now: dt.datetime | None = None
) -> Outcome:
    """A handler steps aside from a case (a conflict of interest the reporter did not know of):
    their key wraps are removed, so they can no longer open it, and they are unassigned."""
    now = now or utcnow()
    try:
        case = handler_case(db, account, case_id)
    except NotFound:
        left = _done_before(db, account, case_id, "case.recused")
        if left is not None:
            return Outcome(left, False)
        raise
    case = lock_case(db, case)
    keyring.remove_wraps_of(db, case.id, account.id)
    unassigned = case.assignee_id == account.id
    if unassigned:
        case.assignee_id = None
    record_event(
        db,
        organisation_id=case.organisation_id,
        action="case.recused",
        actor=Actor.staff(account),
        case_id=case.id,
        details={"unassigned": unassigned},
        now=now,
    )
    return Outcome(case, True)


# --- identity custody ------------------------------------------------------------------------


class AnonymousReport(DomainError):
    status_code = 409
    default_message = _l("This report is anonymous: there is no identity to grant.")


def identity_candidates(db: Session, case: Case) -> list[Account]:
    """Handlers of the case's body who hold its key but not the reporter's identity."""
    holders: dict[int | None, set[str]] = {}
    for account_id, purpose in db.execute(
        select(CaseKeyWrap.account_id, CaseKeyWrap.purpose).where(
            CaseKeyWrap.case_id == case.id,
            CaseKeyWrap.account_id.is_not(None),
        )
    ):
        holders.setdefault(account_id, set()).add(purpose)
    return [
        account
        for account in body_readers(db, case.body_id)
        if KeyPurpose.CASE in holders.get(account.id, set())
        and KeyPurpose.IDENTITY not in holders.get(account.id, set())
    ]


def grant_identity(
    db: Session,
    principal: Principal,
    case_id: str,
    *,
    account_id: int,
    now: dt.datetime | None = None,
) -> Outcome:
    """The chair reveals a named reporter's identity to one handler of the case: the identity
    key is wrapped for them (Law on Denunciations Arts. 8–9: an explicit, audited decision)."""
    now = now or utcnow()
    chair = principal.account
    if chair.role != Role.CHAIR:
        raise RoleNotPermitted()
    case = lock_case(db, acting_case(db, chair, case_id))
    if case.identity_ct is None:
        raise AnonymousReport()
    grantee = db.get(Account, account_id)
    if (
        grantee is None
        or not grantee.active
        or grantee.role not in HANDLER_ROLES
        or grantee.body_id != case.body_id
    ):
        raise InvalidSubmission()
    held = keyring.held_purposes(db, case.id, grantee.id)
    if KeyPurpose.CASE not in held:
        raise InvalidSubmission()
    if KeyPurpose.IDENTITY in held:
        return Outcome(case, False)
    keys = keyring.open_case_keys_for_account(db, case, chair, principal.private_key)
    if keys.identity is None:
        raise KeyUnavailable()
    keyring.wrap_for_account(db, case.id, keys, grantee, (KeyPurpose.IDENTITY,), case=case)
    record_event(
        db,
        organisation_id=case.organisation_id,
        action="case.identity_granted",
        actor=Actor.staff(chair),
        case_id=case.id,
        details={"account": grantee.id},
        now=now,
    )
    return Outcome(case, True)
