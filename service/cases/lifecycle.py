"""The case state machine: who may move a case from which status to which, and nothing else.

    mới ─acknowledge→ đã tiếp nhận ─accept→ đang xử lý ─resolve→ đã giải quyết ─close→ đóng
      │                    └──decline──→ không thụ lý ─────────────close──────────↗
      └─ chuyển đơn (transfer) ─→ acknowledged by the receiving body like a new case
    đã giải quyết / không thụ lý / đóng ─reopen→ đang xử lý

Each transition is one function that checks the role and the status, then writes the status,
its audit event and any outgoing mail in one transaction. Repeating a transition that has
already happened (a second tab, the back button) changes nothing: the function returns the case
as it is and says so. On the information track (anonymous complaints and denunciations) the same
transitions mean "verify" (accept) and "record and file" (decline).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.audit.trail import Actor, record_event
from service.cases.casework import acting_case, add_message
from service.mail.outbox import enqueue_mail
from service.models import Account, Author, Case, CaseKeyWrap, CaseStatus, MessageKind, Role
from service.platform.clock import local_today, utcnow
from service.platform.errors import AccessDenied, DomainError, InvalidSubmission
from service.rules.policy import count_days, extension_rule, schedule
from service.sealing import keyring

S = CaseStatus
HANDLERS = frozenset({Role.HANDLER, Role.CHAIR})
CHAIRS = frozenset({Role.CHAIR})
REPORTER = "reporter"


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    ACCEPT = "accept"
    DECLINE = "decline"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"
    TRANSFER = "transfer"


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[CaseStatus]
    target: CaseStatus
    roles: frozenset[str]


TRANSITIONS: dict[Action, Transition] = {
    t.action: t
    for t in (
        Transition(Action.ACKNOWLEDGE, frozenset({S.NEW, S.TRANSFERRED}), S.ACKNOWLEDGED, HANDLERS),
        Transition(Action.ACCEPT, frozenset({S.ACKNOWLEDGED}), S.IN_PROGRESS, HANDLERS),
        Transition(
            Action.DECLINE,
            frozenset({S.NEW, S.TRANSFERRED, S.ACKNOWLEDGED}),
            S.NOT_ACCEPTED,
            CHAIRS,
        ),
        Transition(Action.RESOLVE, frozenset({S.IN_PROGRESS}), S.RESOLVED, HANDLERS),
        Transition(Action.CLOSE, frozenset({S.RESOLVED, S.NOT_ACCEPTED}), S.CLOSED, CHAIRS),
        Transition(
            Action.REOPEN,
            frozenset({S.RESOLVED, S.NOT_ACCEPTED, S.CLOSED}),
            S.IN_PROGRESS,
            CHAIRS | {REPORTER},
        ),
        Transition(
            Action.TRANSFER,
            frozenset({S.NEW, S.TRANSFERRED, S.ACKNOWLEDGED, S.IN_PROGRESS}),
            S.TRANSFERRED,
            HANDLERS,
        ),
    )
}


class TransitionRefused(DomainError):
    """The case is not in a status from which this can be done."""

    status_code = 409
    default_message = _l("This cannot be done to the case in its present status.")


class RoleNotPermitted(AccessDenied):
    default_message = _l("Your role does not allow this.")


class ExtensionRefused(DomainError):
    status_code = 409
    default_message = _l("This deadline cannot be extended any further.")


@dataclass(frozen=True)
class Outcome:
    """What a transition did: `changed` is False when it had already happened."""

    case: Case
    changed: bool


def allowed_actions(case: Case, role: str) -> list[Action]:
    """The transitions `role` may apply to `case` now (the buttons a page shows)."""
    return [t.action for t in TRANSITIONS.values() if role in t.roles and case.status in t.sources]


def check_transition(case: Case, action: Action, role: str) -> bool:
    """True if the transition applies; False if it has already happened; refuse otherwise."""
    transition = TRANSITIONS[action]
    if role not in transition.roles:
        raise RoleNotPermitted()
    if case.status in transition.sources:
        return True
    if case.status == transition.target:
        return False
    raise TransitionRefused()


def set_status(db: Session, case: Case, status: CaseStatus) -> None:
    """Change the case's status, and the copy of it the board counts from (the CASE wraps of
    the body's handlers: see CaseKeyWrap.case_status). Every status change goes through here."""
    case.status = status
    db.execute(
        update(CaseKeyWrap)
        .where(CaseKeyWrap.case_id == case.id, CaseKeyWrap.case_status.is_not(None))
        .values(case_status=status),
        execution_options={"synchronize_session": False},
    )


def lock_case(db: Session, case: Case) -> Case:
    """The row locked (and re-read) so that two tabs cannot both move it."""
    db.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    db.refresh(case)
    return case


def _case_for(db: Session, account: Account, case_id: str) -> Case:
    """The domain access check (a member of the case's body holding its key), then the lock."""
    return lock_case(db, acting_case(db, account, case_id))


def _apply(
    db: Session,
    account: Account,
    case: Case,
    action: Action,
    now: dt.datetime,
    details: dict | None = None,
) -> None:
    set_status(db, case, TRANSITIONS[action].target)
    schedule(db, case)
    record_event(
        db,
        organisation_id=case.organisation_id,
        action=f"case.{action}",
        actor=Actor.staff(account),
        case_id=case.id,
        details={"status": str(case.status), **(details or {})},
        now=now,
    )


def _transition(
    db: Session, account: Account, case_id: str, action: Action, now: dt.datetime | None
) -> tuple[Case, bool, dt.datetime]:
    now = now or utcnow()
    case = _case_for(db, account, case_id)
    return case, check_transition(case, action, account.role), now


def acknowledge_case(
    db: Session, account: Account, case_id: str, now: dt.datetime | None = None
) -> Outcome:
    """Đã tiếp nhận: the body confirms it has the case; the next clocks start."""
    case, applies, now = _transition(db, account, case_id, Action.ACKNOWLEDGE, now)
    if applies:
        case.acknowledged_on = local_today(now)
        _apply(db, account, case, Action.ACKNOWLEDGE, now)
    return Outcome(case, applies)


def accept_case(
    db: Session, account: Account, case_id: str, now: dt.datetime | None = None
) -> Outcome:
    """Thụ lý (or, on the information track, start verifying): the resolve clock starts."""
    case, applies, now = _transition(db, account, case_id, Action.ACCEPT, now)
    if applies:
        case.accepted_on = local_today(now)
        _apply(db, account, case, Action.ACCEPT, now)
    return Outcome(case, applies)


def _decide(
    db: Session,
    account: Account,
    private_key: bytes,
    case_id: str,
    action: Action,
    text: str,
    now: dt.datetime | None,
) -> Outcome:
    if not text.strip():
        raise InvalidSubmission()
    case, applies, now = _transition(db, account, case_id, action, now)
    if applies:
        keys = keyring.open_case_keys_for_account(db, case, account, private_key)
        add_message(db, case, keys, Author.STAFF, account, text, (), now, MessageKind.DECISION)
        case.decided_on = local_today(now)
        case.decision = TRANSITIONS[action].target
        _apply(db, account, case, action, now)
    return Outcome(case, applies)


def resolve_case(
    db: Session,
    account: Account,
    private_key: bytes,
    case_id: str,
    summary: str,
    now: dt.datetime | None = None,
) -> Outcome:
    """Đã giải quyết, with the outcome explained to the reporter (sealed like any reply)."""
    return _decide(db, account, private_key, case_id, Action.RESOLVE, summary, now)


def decline_case(
    db: Session,
    account: Account,
    private_key: bytes,
    case_id: str,
    reason: str,
    now: dt.datetime | None = None,
) -> Outcome:
    """Không thụ lý (or, on the information track, record and file), with the reason."""
    return _decide(db, account, private_key, case_id, Action.DECLINE, reason, now)


def close_case(
    db: Session, account: Account, case_id: str, now: dt.datetime | None = None
) -> Outcome:
    case, applies, now = _transition(db, account, case_id, Action.CLOSE, now)
    if applies:
        case.closed_on = local_today(now)
        _apply(db, account, case, Action.CLOSE, now)
    return Outcome(case, applies)


def reopen_case(
    db: Session, account: Account, case_id: str, now: dt.datetime | None = None
) -> Outcome:
    """The chair reopens a decided case; handling resumes on the resolve clock."""
    case, applies, now = _transition(db, account, case_id, Action.REOPEN, now)
    if applies:
        reopen(case)
        _apply(db, account, case, Action.REOPEN, now)
    return Outcome(case, applies)


def reopen(case: Case) -> None:
    """What reopening changes, whoever asks for it (the chair, or the reporter in time).

    The reporter may rate the next outcome afresh (the audit trail keeps the earlier rating).
    """
    case.decided_on = None
    case.decision = None
    case.closed_on = None
    case.rating = None
    case.rated_on = None
    case.reopen_count += 1
    if case.accepted_on is None:
        case.accepted_on = case.acknowledged_on or case.received_on


def assign_case(
    db: Session,
    chair: Account,
    case_id: str,
    assignee_id: int,
    now: dt.datetime | None = None,
) -> Outcome:
    """The chair gives the case to a handler of the body who holds its key."""
    now = now or utcnow()
    if chair.role != Role.CHAIR:
        raise RoleNotPermitted()
    case = _case_for(db, chair, case_id)
    assignee = db.get(Account, assignee_id)
    if (
        assignee is None
        or not assignee.active
        or assignee.body_id != case.body_id
        or not keyring.has_wrap(db, case.id, assignee.id)
    ):
        raise InvalidSubmission()
    if case.assignee_id == assignee.id:
        return Outcome(case, False)
    case.assignee_id, case.assignee = assignee.id, assignee
    record_event(
        db,
        organisation_id=case.organisation_id,
        action="case.assigned",
        actor=Actor.staff(chair),
        case_id=case.id,
        details={"assignee": assignee.id},
        now=now,
    )
    if assignee.id != chair.id:
        enqueue_mail(
            db,
            organisation_id=case.organisation_id,
            recipient=assignee.email,
            template="case_assigned",
            now=now,
        )
    return Outcome(case, True)


def extend_deadline(
    db: Session,
    chair: Account,
    private_key: bytes,
    case_id: str,
    reason: str,
    now: dt.datetime | None = None,
    *,
    from_due: dt.date | None = None,
) -> Outcome:
    """Gia hạn: move the resolve deadline by the rule's extension, as often as it allows.

    The reason is an internal note (sealed under the STAFF key); the audit event says only
    that the deadline moved, from when to when. `from_due` is the deadline the chair saw: if it
    has moved since (the same form sent from a second tab), nothing changes.
    """
    now = now or utcnow()
    if chair.role != Role.CHAIR:
        raise RoleNotPermitted()
    if not reason.strip():
        raise InvalidSubmission()
    case = _case_for(db, chair, case_id)
    if from_due is not None and case.resolve_due != from_due:
        return Outcome(case, False)
    rule = extension_rule(db, case)
    if (
        rule is None
        or case.resolve_due is None
        or case.extensions >= rule.max_extensions
        or rule.extension_days <= 0
    ):
        raise ExtensionRefused()
    keys = keyring.open_case_keys_for_account(db, case, chair, private_key)
    add_message(db, case, keys, Author.STAFF, chair, reason, (), now, MessageKind.NOTE)
    before = case.resolve_due
    case.resolve_due = count_days(before, rule.extension_days, rule.unit)
    case.extensions += 1
    schedule(db, case)
    record_event(
        db,
        organisation_id=case.organisation_id,
        action="case.deadline_extended",
        actor=Actor.staff(chair),
        case_id=case.id,
        details={
            "from": before.isoformat(),
            "to": case.resolve_due.isoformat(),
            "extension": case.extensions,
        },
        now=now,
    )
    return Outcome(case, True)
