"""The case state machine: who may move a case from which status to which, and nothing else.

    mới ─acknowledge→ đã tiếp nhận ─accept→ đang xử lý ─resolve→ đã giải quyết ─close→ đóng
      │                    └──decline──→ không thụ lý ─────────────close──────────↗
      └─ chuyển đơn (transfer) ─→ acknowledged by the receiving body like a new case
    đã giải quyết / không thụ lý / đóng ─reopen→ đang xử lý

The transitions are a table (TRANSITIONS): each row names the roles that may apply it, the
statuses it leaves, the status it reaches, and what it keeps in step with the status (date
stamps, the decision, what a reopening resets, the deadlines). `move` is the one function that
changes a status — for staff here, for the reporter (voice.ask_to_reopen) and for a transfer
(custody.transfer_case) alike — with its audit event, in the caller's transaction. Repeating
a transition that has already happened (a second tab, the back button) changes nothing: the
function returns the case as it is and says so. On the information track (anonymous complaints
and denunciations) the same transitions mean "verify" (accept) and "record and file" (decline).
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
from service.people.principal import Principal
from service.platform.clock import local_today, utcnow
from service.platform.errors import AccessDenied, DomainError, InvalidSubmission
from service.rules.policy import count_days, extension_rule, restart_clocks, schedule
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
    """One row of the state machine, with everything the move keeps in step with the status.

    `stamp` is the date field set to the day of the move; `decides` moves need a decision text
    and record the decision (decided_on, decision); `resets` are the fields cleared by the move
    (what a reopening undoes); `resumes` handling on the resolve clock, counted from the
    acknowledgement if the case was never accepted; `counter` is the field counting such moves;
    `restarts_clocks` starts the deadlines afresh (a transfer), where every other move only
    schedules the next deadline; `event` is the audit action, "case.<action>" unless named.
    """

    action: Action
    sources: frozenset[CaseStatus]
    target: CaseStatus
    roles: frozenset[str]
    stamp: str | None = None
    decides: bool = False
    resets: tuple[str, ...] = ()
    resumes: bool = False
    counter: str | None = None
    restarts_clocks: bool = False
    event: str | None = None

    @property
    def audit_action(self) -> str:
        return self.event or f"case.{self.action}"


# What reopening undoes: the decision, the closing, and the rating (the reporter may rate the
# next outcome afresh; the audit trail keeps the earlier rating).
_REOPEN_RESETS = ("decided_on", "decision", "closed_on", "rating", "rated_on")
DECIDED = frozenset({S.RESOLVED, S.NOT_ACCEPTED, S.CLOSED})

TRANSITIONS: dict[Action, Transition] = {
    t.action: t
    for t in (
        Transition(
            Action.ACKNOWLEDGE,
            frozenset({S.NEW, S.TRANSFERRED}),
            S.ACKNOWLEDGED,
            HANDLERS,
            stamp="acknowledged_on",
        ),
        Transition(
            Action.ACCEPT, frozenset({S.ACKNOWLEDGED}), S.IN_PROGRESS, HANDLERS, stamp="accepted_on"
        ),
        Transition(
            Action.DECLINE,
            frozenset({S.NEW, S.TRANSFERRED, S.ACKNOWLEDGED}),
            S.NOT_ACCEPTED,
            CHAIRS,
            decides=True,
        ),
        Transition(Action.RESOLVE, frozenset({S.IN_PROGRESS}), S.RESOLVED, HANDLERS, decides=True),
        Transition(
            Action.CLOSE,
            frozenset({S.RESOLVED, S.NOT_ACCEPTED}),
            S.CLOSED,
            CHAIRS,
            stamp="closed_on",
        ),
        Transition(
            Action.REOPEN,
            DECIDED,
            S.IN_PROGRESS,
            CHAIRS | {REPORTER},
            resets=_REOPEN_RESETS,
            resumes=True,
            counter="reopen_count",
        ),
        Transition(
            Action.TRANSFER,
            frozenset({S.NEW, S.TRANSFERRED, S.ACKNOWLEDGED, S.IN_PROGRESS}),
            S.TRANSFERRED,
            HANDLERS,
            counter="transfer_count",
            restarts_clocks=True,
            event="case.transferred",
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
    """The raw write of the status and of the copy of it the board counts from (the CASE wraps
    of the body's handlers: see CaseKeyWrap.case_status). Only `move` calls it (and tests that
    put a case in a status); anything else changes a status through `move`."""
    case.status = status
    db.execute(
        update(CaseKeyWrap)
        .where(CaseKeyWrap.case_id == case.id, CaseKeyWrap.case_status.is_not(None))
        .values(case_status=status),
        execution_options={"synchronize_session": False},
    )


def move(
    db: Session,
    case: Case,
    action: Action,
    *,
    actor: Actor,
    now: dt.datetime,
    details: dict | None = None,
) -> None:
    """The one function that changes a case's status (the caller has locked the case and checked
    the move with `check_transition`; the unit of work commits): the status and its copy on the
    wraps, the row's date stamps and resets, the deadlines, and the audit event. A reporter's
    event is dated to the day only, by `record_event`."""
    transition = TRANSITIONS[action]
    if not check_transition(case, action, actor.role):
        raise TransitionRefused()
    today = local_today(now)
    _apply_row(case, transition, today)
    set_status(db, case, transition.target)
    if transition.restarts_clocks:
        restart_clocks(db, case, today)
    else:
        schedule(db, case)
    record_event(
        db,
        organisation_id=case.organisation_id,
        action=transition.audit_action,
        actor=actor,
        case_id=case.id,
        details={"status": str(case.status), **(details or {})},
        now=now,
    )


def _apply_row(case: Case, transition: Transition, today: dt.date) -> None:
    """The row's effects on the case's own fields, as its table entry describes them."""
    for field in transition.resets:
        setattr(case, field, None)
    if transition.resumes and case.accepted_on is None:
        case.accepted_on = case.acknowledged_on or case.received_on
    if transition.counter:
        setattr(case, transition.counter, getattr(case, transition.counter) + 1)
    if transition.stamp:
        setattr(case, transition.stamp, today)
    if transition.decides:
        case.decided_on, case.decision = today, transition.target


def lock_case(db: Session, case: Case) -> Case:
    """The row locked (and re-read) so that two tabs cannot both move it."""
    db.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    db.refresh(case)
    return case


def _case_for(db: Session, account: Account, case_id: str) -> Case:
    """The domain access check (a member of the case's body holding its key), then the lock."""
    return lock_case(db, acting_case(db, account, case_id))


@dataclass(frozen=True)
class Decision:
    """What a deciding move (resolve, decline) explains to the reporter, and who writes it with
    their key (the text is sealed under the case key like any reply)."""

    by: Principal
    text: str


def staff_move(
    db: Session,
    account: Account,
    case_id: str,
    action: Action,
    *,
    now: dt.datetime | None = None,
    decision: Decision | None = None,
) -> Outcome:
    """A member of the case's body moves it; a move that has already happened changes nothing.
    A deciding move (the table's `decides`) needs its `decision`, written by `account`."""
    if TRANSITIONS[action].decides and (decision is None or not decision.text.strip()):
        raise InvalidSubmission()
    now = now or utcnow()
    case = _case_for(db, account, case_id)
    applies = check_transition(case, action, account.role)
    if applies:
        if decision is not None:
            keys = keyring.open_case_keys_for_account(db, case, account, decision.by.private_key)
            add_message(
                db,
                case,
                keys,
                author=Author.STAFF,
                account=account,
                text=decision.text,
                now=now,
                kind=MessageKind.DECISION,
            )
        move(db, case, action, actor=Actor.staff(account), now=now)
    return Outcome(case, applies)


def acknowledge_case(
    db: Session, account: Account, case_id: str, now: dt.datetime | None = None
) -> Outcome:
    """Đã tiếp nhận: the body confirms it has the case; the next clocks start."""
    return staff_move(db, account, case_id, Action.ACKNOWLEDGE, now=now)


def accept_case(
    db: Session, account: Account, case_id: str, now: dt.datetime | None = None
) -> Outcome:
    """Thụ lý (or, on the information track, start verifying): the resolve clock starts."""
    return staff_move(db, account, case_id, Action.ACCEPT, now=now)


def resolve_case(
    db: Session,
    principal: Principal,
    case_id: str,
    *,
    summary: str,
    now: dt.datetime | None = None,
) -> Outcome:
    """Đã giải quyết, with the outcome explained to the reporter (sealed like any reply)."""
    decision = Decision(principal, summary)
    return staff_move(db, principal.account, case_id, Action.RESOLVE, now=now, decision=decision)


def decline_case(
    db: Session,
    principal: Principal,
    case_id: str,
    *,
    reason: str,
    now: dt.datetime | None = None,
) -> Outcome:
    """Không thụ lý (or, on the information track, record and file), with the reason."""
    decision = Decision(principal, reason)
    return staff_move(db, principal.account, case_id, Action.DECLINE, now=now, decision=decision)


def close_case(
    db: Session, account: Account, case_id: str, now: dt.datetime | None = None
) -> Outcome:
    return staff_move(db, account, case_id, Action.CLOSE, now=now)


def reopen_case(
    db: Session, account: Account, case_id: str, now: dt.datetime | None = None
) -> Outcome:
    """The chair reopens a decided case; handling resumes on the resolve clock."""
    return staff_move(db, account, case_id, Action.REOPEN, now=now)


def assign_case(
    db: Session,
    chair: Account,
    case_id: str,
    *,
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
    principal: Principal,
    case_id: str,
    *,
    reason: str,
    now: dt.datetime | None = None,
    from_due: dt.date | None = None,
) -> Outcome:
    """Gia hạn: move the resolve deadline by the rule's extension, as often as it allows.

    The reason is an internal note (sealed under the STAFF key); the audit event says only
    that the deadline moved, from when to when. `from_due` is the deadline the chair saw: if it
    has moved since (the same form sent from a second tab), nothing changes.
    """
    now = now or utcnow()
    chair = principal.account
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
    keys = keyring.open_case_keys_for_account(db, case, chair, principal.private_key)
    add_message(
        db,
        case,
        keys,
        author=Author.STAFF,
        account=chair,
        text=reason,
        now=now,
        kind=MessageKind.NOTE,
    )
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
