"""An organisation's rules: which body receives what, and the legal clocks.

Both live in the database (an administrator may change them); `seed_rules` writes the defaults
below when an organisation is created. The deadline defaults come from the law:

- acknowledge within 10 working days (Citizen Reception Law 2013, Art. 28);
- complaints accepted within 10 days, resolved within 30 days of acceptance, once extendable by
  15 for complex cases (Law on Complaints 2011, Arts. 27–28);
- denunciations classified within 7 working days, resolved within 30 days of acceptance,
  extendable once or twice by 30 (Law on Denunciations 2018, Arts. 24, 30);
- suggestions, problems and misconduct reports by the unit's own regulation: 15 working days.

Anonymous complaints and denunciations are handled as information (Law on Denunciations Art. 25):
they are acknowledged like everything else but run on no formal accept/resolve clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import (
    Body,
    BodyKind,
    Case,
    CaseKind,
    CaseStatus,
    Category,
    ClockStart,
    DayUnit,
    DeadlineRule,
    DeadlineStage,
    Organisation,
    RoutingRule,
    Track,
)
from service.platform.errors import InvalidSubmission
from service.rules.calendar import add_calendar_days, add_working_days


@dataclass(frozen=True)
class RuleDefault:
    kind: CaseKind
    stage: DeadlineStage
    days: int
    unit: DayUnit
    starts_from: ClockStart
    max_extensions: int = 0
    extension_days: int = 0
    legal_basis: str = ""


_ACKNOWLEDGE = [
    RuleDefault(
        kind,
        DeadlineStage.ACKNOWLEDGE,
        10,
        DayUnit.WORKING,
        ClockStart.RECEIVED,
        legal_basis="Luật Tiếp công dân 2013, Điều 28",
    )
    for kind in CaseKind
]

DEFAULT_DEADLINES: tuple[RuleDefault, ...] = (
    *_ACKNOWLEDGE,
    RuleDefault(
        CaseKind.COMPLAINT,
        DeadlineStage.ACCEPT,
        10,
        DayUnit.CALENDAR,
        ClockStart.RECEIVED,
        legal_basis="Luật Khiếu nại 2011, Điều 27",
    ),
    RuleDefault(
        CaseKind.COMPLAINT,
        DeadlineStage.RESOLVE,
        30,
        DayUnit.CALENDAR,
        ClockStart.ACCEPTED,
        max_extensions=1,
        extension_days=15,
        legal_basis="Luật Khiếu nại 2011, Điều 28",
    ),
    RuleDefault(
        CaseKind.DENUNCIATION,
        DeadlineStage.ACCEPT,
        7,
        DayUnit.WORKING,
        ClockStart.RECEIVED,
        legal_basis="Luật Tố cáo 2018, Điều 24",
    ),
    RuleDefault(
        CaseKind.DENUNCIATION,
        DeadlineStage.RESOLVE,
        30,
        DayUnit.CALENDAR,
        ClockStart.ACCEPTED,
        max_extensions=2,
        extension_days=30,
        legal_basis="Luật Tố cáo 2018, Điều 30",
    ),
    *(
        RuleDefault(
            kind,
            DeadlineStage.RESOLVE,
            15,
            DayUnit.WORKING,
            ClockStart.ACKNOWLEDGED,
            max_extensions=1,
            extension_days=15,
            legal_basis="Quy chế dân chủ của đơn vị",
        )
        for kind in (CaseKind.SUGGESTION, CaseKind.PROBLEM, CaseKind.MISCONDUCT)
    ),
)

DEFAULT_CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("working-conditions", "Điều kiện làm việc", "Working conditions"),
    ("pay-benefits", "Tiền lương, chế độ, chính sách", "Pay, benefits and entitlements"),
    ("finance-assets", "Tài chính, tài sản công", "Finances and public assets"),
    ("personnel", "Tổ chức, cán bộ", "Organisation and personnel"),
    ("conduct", "Ứng xử, văn hóa công sở", "Conduct and workplace culture"),
    ("other", "Khác", "Other"),
)

# Where a case goes when the reporter lets the system choose (kind → body kind).
DEFAULT_ROUTING: dict[CaseKind, BodyKind] = {
    CaseKind.SUGGESTION: BodyKind.TRADE_UNION,
    CaseKind.PROBLEM: BodyKind.TRADE_UNION,
    CaseKind.MISCONDUCT: BodyKind.TRADE_UNION,
    CaseKind.COMPLAINT: BodyKind.INSPECTION_BOARD,
    CaseKind.DENUNCIATION: BodyKind.INSPECTION_BOARD,
}


def seed_rules(db: Session, organisation: Organisation, bodies: list[Body]) -> None:
    """Write the default deadline rules, categories and routing table (no commit)."""
    for rule in DEFAULT_DEADLINES:
        db.add(
            DeadlineRule(
                organisation_id=organisation.id,
                kind=rule.kind,
                stage=rule.stage,
                days=rule.days,
                unit=rule.unit,
                starts_from=rule.starts_from,
                max_extensions=rule.max_extensions,
                extension_days=rule.extension_days,
                legal_basis=rule.legal_basis,
            )
        )
    for position, (code, name_vi, name_en) in enumerate(DEFAULT_CATEGORIES):
        db.add(
            Category(
                organisation_id=organisation.id,
                code=code,
                name_vi=name_vi,
                name_en=name_en,
                position=position,
            )
        )
    by_kind = {body.kind: body for body in bodies}
    for kind, body_kind in DEFAULT_ROUTING.items():
        if body_kind in by_kind:
            db.add(
                RoutingRule(
                    organisation_id=organisation.id, kind=kind, body_id=by_kind[body_kind].id
                )
            )


# --- routing -------------------------------------------------------------------------------


def active_categories(db: Session, organisation: Organisation) -> list[Category]:
    """The subjects a reporter may pick, in the administrator's order."""
    return list(
        db.scalars(
            select(Category)
            .where(Category.organisation_id == organisation.id, Category.active.is_(True))
            .order_by(Category.position, Category.id)
        )
    )


def eligible_bodies(
    db: Session, organisation: Organisation, *, concerns_head_of_unit: bool
) -> list[Body]:
    """Active bodies that may receive a case; never the head of unit for a case about them."""
    query = (
        select(Body)
        .where(Body.organisation_id == organisation.id, Body.active.is_(True))
        .order_by(Body.position, Body.id)
    )
    if concerns_head_of_unit:
        query = query.where(Body.kind != BodyKind.HEAD_OF_UNIT)
    return list(db.scalars(query))


def route(
    db: Session,
    organisation: Organisation,
    kind: CaseKind,
    category_id: int | None,
    *,
    concerns_head_of_unit: bool = False,
) -> Body:
    """The body the routing table picks: (kind, category), then kind, then category, then any."""
    bodies = {
        b.id: b
        for b in eligible_bodies(db, organisation, concerns_head_of_unit=concerns_head_of_unit)
    }
    if not bodies:
        raise InvalidSubmission(_l("This organisation has no body to receive reports yet."))
    rules = db.scalars(
        select(RoutingRule).where(RoutingRule.organisation_id == organisation.id)
    ).all()

    def specificity(rule: RoutingRule) -> int:
        return (rule.kind is not None) * 2 + (rule.category_id is not None)

    matching = [
        rule
        for rule in rules
        if rule.kind in (None, kind)
        and rule.category_id in (None, category_id)
        and rule.body_id in bodies
    ]
    if matching:
        return bodies[max(matching, key=specificity).body_id]
    return next(iter(bodies.values()))


# --- deadlines -----------------------------------------------------------------------------


def rules_for(db: Session, organisation_id: int, kind: str) -> dict[str, DeadlineRule]:
    return {
        rule.stage: rule
        for rule in db.scalars(
            select(DeadlineRule).where(
                DeadlineRule.organisation_id == organisation_id, DeadlineRule.kind == kind
            )
        )
    }


def count_days(start: dt.date, days: int, unit: str) -> dt.date:
    if unit == DayUnit.WORKING:
        return add_working_days(start, days)
    return add_calendar_days(start, days)


def _clock_start(case: Case, starts_from: str) -> dt.date | None:
    starts: dict[str, dt.date | None] = {
        # A transferred case was received by its present body on the day of the transfer.
        ClockStart.RECEIVED: case.transferred_on or case.received_on,
        ClockStart.ACKNOWLEDGED: case.acknowledged_on,
        ClockStart.ACCEPTED: case.accepted_on,
    }
    return starts[starts_from]


def schedule(db: Session, case: Case) -> None:
    """Set every deadline whose clock has started, then the one the case waits on now.

    Called at intake and after every transition; deadlines already set are kept (an
    extension moved them on purpose). The information track runs on the acknowledge clock only.
    """
    rules = _rules_with_acknowledge(db, case)
    formal = case.track == Track.FORMAL
    for stage, attribute in (
        (DeadlineStage.ACKNOWLEDGE, "acknowledge_due"),
        (DeadlineStage.ACCEPT, "accept_due"),
        (DeadlineStage.RESOLVE, "resolve_due"),
    ):
        rule = rules.get(stage)
        if rule is None or getattr(case, attribute) is not None:
            continue
        if stage != DeadlineStage.ACKNOWLEDGE and not formal:
            continue
        start = _clock_start(case, rule.starts_from)
        if start is not None:
            setattr(case, attribute, count_days(start, rule.days, rule.unit))
    case.next_due = current_due(case)


def _rules_with_acknowledge(db: Session, case: Case) -> dict[str, DeadlineRule]:
    rules = rules_for(db, case.organisation_id, case.kind)
    rules.setdefault(DeadlineStage.ACKNOWLEDGE, _LEGAL_ACKNOWLEDGE)
    return rules


def restart_clocks(db: Session, case: Case, transferred_on: dt.date) -> None:
    """A transferred case starts afresh at the receiving body, as if received on the day of the
    transfer: it acknowledges the case like a new one, its acknowledge clock (and a complaint's
    or denunciation's accept clock) counts from that day, and the resolve clock starts again
    from its own acknowledgement or acceptance, with every extension available again. The
    sending body's acknowledgement and acceptance no longer count (the audit trail keeps them).
    """
    case.transferred_on = transferred_on
    case.acknowledged_on = None
    case.accepted_on = None
    case.accept_due = None
    case.resolve_due = None
    case.extensions = 0
    rule = _rules_with_acknowledge(db, case)[DeadlineStage.ACKNOWLEDGE]
    case.acknowledge_due = count_days(transferred_on, rule.days, rule.unit)
    schedule(db, case)


# Used if an administrator removed a kind's acknowledge rule: the law still applies.
_LEGAL_ACKNOWLEDGE = DeadlineRule(
    stage=DeadlineStage.ACKNOWLEDGE,
    days=10,
    unit=DayUnit.WORKING,
    starts_from=ClockStart.RECEIVED,
)


def current_due(case: Case) -> dt.date | None:
    """The deadline the case is waiting on in its present status (None once decided)."""
    if case.status in (CaseStatus.NEW, CaseStatus.TRANSFERRED):
        return case.acknowledge_due
    if case.status == CaseStatus.ACKNOWLEDGED:
        return case.accept_due or case.resolve_due
    if case.status == CaseStatus.IN_PROGRESS:
        return case.resolve_due
    return None


DUE_SOON_DAYS = 3


def due_flags(next_due: dt.date | None, today: dt.date) -> tuple[bool, bool]:
    """(overdue, due within DUE_SOON_DAYS days) for a case waiting on `next_due`."""
    if next_due is None:
        return False, False
    return next_due < today, today <= next_due <= today + dt.timedelta(days=DUE_SOON_DAYS)


def is_overdue(case: Case, today: dt.date) -> bool:
    return due_flags(case.next_due, today)[0]


def is_due_soon(case: Case, today: dt.date) -> bool:
    return due_flags(case.next_due, today)[1]


def extension_rule(db: Session, case: Case) -> DeadlineRule | None:
    """The rule that says how the deadline the case waits on now may be extended."""
    stage = DeadlineStage.RESOLVE if case.status == CaseStatus.IN_PROGRESS else None
    if stage is None:
        return None
    return rules_for(db, case.organisation_id, case.kind).get(stage)
