"""What an administrator changes: the organisation's settings, bodies, recipients, categories,
routing table and deadline rules. Each function is one audited transaction.

None of this touches a case's content or keys: an administrator's account holds no wrap of any
case, and nothing here makes one (DESIGN.md, roles).
"""

from __future__ import annotations

import datetime as dt
import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.admin.organisations import NewBody, create_body
from service.audit.trail import Actor, record_event
from service.models import (
    Account,
    Body,
    BodyKind,
    CaseKind,
    Category,
    DayUnit,
    DeadlineRule,
    Organisation,
    Role,
    RoutingRule,
    SummaryRecipient,
)
from service.people.accounts import normalise_email
from service.platform.clock import utcnow
from service.platform.errors import InvalidSubmission, NotFound

RECIPIENT_KINDS = ("management", "administration")
_CATEGORY_CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
MAX_DAYS = 365
MAX_EXTENSIONS = 5


def _require_admin(admin: Account) -> None:
    if admin.role != Role.ADMIN or not admin.active:
        raise NotFound()


def _owned(db: Session, model, row_id: int, admin: Account):
    row = db.get(model, row_id)
    if row is None or row.organisation_id != admin.organisation_id:
        raise NotFound()
    return row


def _audit(db: Session, admin: Account, action: str, details: dict, now: dt.datetime | None):
    record_event(
        db,
        organisation_id=admin.organisation_id,
        action=action,
        actor=Actor.staff(admin),
        details=details,
        now=now,
    )


# --- organisation --------------------------------------------------------------------------


def update_organisation(
    db: Session, admin: Account, *, name: str, place_name: str, now: dt.datetime | None = None
) -> Organisation:
    _require_admin(admin)
    name, place_name = name.strip(), place_name.strip()
    if not name:
        raise InvalidSubmission()
    organisation = db.get_one(Organisation, admin.organisation_id)
    organisation.name = name
    organisation.place_name = place_name
    _audit(db, admin, "admin.organisation_changed", {}, now)
    db.flush()
    return organisation


# --- bodies --------------------------------------------------------------------------------


def _listed(db: Session, model, admin: Account, *order) -> list:
    """The rows of `model` that belong to the administrator's organisation, in order."""
    return list(
        db.scalars(
            select(model).where(model.organisation_id == admin.organisation_id).order_by(*order)
        )
    )


def _checked_names(code: str, pattern: re.Pattern, name_vi: str, name_en: str) -> None:
    if not pattern.fullmatch(code) or not name_vi.strip() or not name_en.strip():
        raise InvalidSubmission()


def bodies(db: Session, admin: Account) -> list[Body]:
    return _listed(db, Body, admin, Body.position, Body.id)


def add_head_of_unit(
    db: Session,
    admin: Account,
    *,
    code: str,
    name_vi: str,
    name_en: str,
    now: dt.datetime | None = None,
) -> NewBody:
    """A head-of-unit body with its own recovery key; the code is returned once, stored nowhere."""
    _require_admin(admin)
    return create_body(
        db,
        db.get_one(Organisation, admin.organisation_id),
        code=code,
        kind=BodyKind.HEAD_OF_UNIT,
        name_vi=name_vi,
        name_en=name_en,
        actor=Actor.staff(admin),
        action="admin.body_added",
        now=now,
    )


def set_body_active(
    db: Session, admin: Account, body_id: int, active: bool, now: dt.datetime | None = None
) -> Body:
    """A deactivated body receives no new cases; its cases and people stay as they are."""
    _require_admin(admin)
    body = _owned(db, Body, body_id, admin)
    if body.active == active:
        return body
    if not active:
        others = [b for b in bodies(db, admin) if b.active and b.id != body.id]
        if not others:
            raise InvalidSubmission(_l("At least one body must stay open for reports."))
    body.active = active
    _audit(
        db,
        admin,
        "admin.body_activated" if active else "admin.body_deactivated",
        {"body": body.code},
        now,
    )
    db.flush()
    return body


# --- summary recipients --------------------------------------------------------------------


def recipients(db: Session, admin: Account) -> list[SummaryRecipient]:
    return _listed(
        db, SummaryRecipient, admin, SummaryRecipient.active.desc(), SummaryRecipient.display_name
    )


def add_recipient(
    db: Session,
    admin: Account,
    *,
    email: str,
    display_name: str,
    kind: str,
    now: dt.datetime | None = None,
) -> SummaryRecipient:
    _require_admin(admin)
    email = normalise_email(email)
    if kind not in RECIPIENT_KINDS or "@" not in email or not display_name.strip():
        raise InvalidSubmission()
    existing = db.scalar(
        select(SummaryRecipient).where(
            SummaryRecipient.organisation_id == admin.organisation_id,
            SummaryRecipient.email == email,
        )
    )
    if existing is not None and existing.active:
        raise InvalidSubmission(_l("This address receives the summaries already."))
    now = now or utcnow()
    if existing is None:
        existing = SummaryRecipient(
            organisation_id=admin.organisation_id, email=email, created_at=now
        )
        db.add(existing)
    existing.display_name = display_name.strip()
    existing.kind = kind
    existing.active = True
    db.flush()
    _audit(db, admin, "admin.recipient_added", {"recipient": existing.id, "kind": kind}, now)
    db.flush()
    return existing


def deactivate_recipient(
    db: Session, admin: Account, recipient_id: int, now: dt.datetime | None = None
) -> None:
    _require_admin(admin)
    recipient = _owned(db, SummaryRecipient, recipient_id, admin)
    if not recipient.active:
        return
    recipient.active = False
    _audit(db, admin, "admin.recipient_deactivated", {"recipient": recipient.id}, now)


# --- categories and routing ----------------------------------------------------------------


def categories(db: Session, admin: Account) -> list[Category]:
    return _listed(db, Category, admin, Category.position, Category.id)


def add_category(
    db: Session,
    admin: Account,
    *,
    code: str,
    name_vi: str,
    name_en: str,
    now: dt.datetime | None = None,
) -> Category:
    _require_admin(admin)
    code = code.strip().lower()
    _checked_names(code, _CATEGORY_CODE, name_vi, name_en)
    existing = categories(db, admin)
    if any(c.code == code for c in existing):
        raise InvalidSubmission(_l("A category with this code exists already."))
    category = Category(
        organisation_id=admin.organisation_id,
        code=code,
        name_vi=name_vi.strip(),
        name_en=name_en.strip(),
        position=len(existing),
        active=True,
    )
    db.add(category)
    db.flush()
    _audit(db, admin, "admin.category_added", {"category": code}, now)
    db.flush()
    return category


def set_category_active(
    db: Session, admin: Account, category_id: int, active: bool, now: dt.datetime | None = None
) -> Category:
    """An inactive category is no longer offered to reporters; cases keep theirs."""
    _require_admin(admin)
    category = _owned(db, Category, category_id, admin)
    if category.active != active:
        category.active = active
        action = "admin.category_activated" if active else "admin.category_deactivated"
        _audit(db, admin, action, {"category": category.code}, now)
        db.flush()
    return category


def routing_rules(db: Session, admin: Account) -> list[RoutingRule]:
    return _listed(
        db, RoutingRule, admin, RoutingRule.kind, RoutingRule.category_id, RoutingRule.id
    )


def set_routing_rule(
    db: Session,
    admin: Account,
    *,
    kind: str | None,
    category_id: int | None,
    body_id: int,
    now: dt.datetime | None = None,
) -> RoutingRule:
    """(kind, category) → body; an existing rule for the same pair is changed."""
    _require_admin(admin)
    if kind is not None and kind not in {k.value for k in CaseKind}:
        raise InvalidSubmission()
    if category_id is not None:
        _owned(db, Category, category_id, admin)
    body = _owned(db, Body, body_id, admin)
    rule = db.scalar(
        select(RoutingRule).where(
            RoutingRule.organisation_id == admin.organisation_id,
            RoutingRule.kind.is_(None) if kind is None else RoutingRule.kind == kind,
            RoutingRule.category_id.is_(None)
            if category_id is None
            else RoutingRule.category_id == category_id,
        )
    )
    if rule is None:
        rule = RoutingRule(
            organisation_id=admin.organisation_id, kind=kind, category_id=category_id
        )
        db.add(rule)
    rule.body_id = body.id
    db.flush()
    _audit(
        db,
        admin,
        "admin.routing_changed",
        {"kind": kind, "category": category_id, "body": body.code},
        now,
    )
    db.flush()
    return rule


def delete_routing_rule(
    db: Session, admin: Account, rule_id: int, now: dt.datetime | None = None
) -> None:
    _require_admin(admin)
    rule = _owned(db, RoutingRule, rule_id, admin)
    details = {"kind": rule.kind, "category": rule.category_id}
    db.delete(rule)
    _audit(db, admin, "admin.routing_removed", details, now)


# --- deadlines -----------------------------------------------------------------------------


def deadline_rules(db: Session, admin: Account) -> list[DeadlineRule]:
    order = {kind.value: i for i, kind in enumerate(CaseKind)}
    stages = {"acknowledge": 0, "accept": 1, "resolve": 2}
    rules = db.scalars(
        select(DeadlineRule).where(DeadlineRule.organisation_id == admin.organisation_id)
    )
    return sorted(rules, key=lambda r: (order.get(r.kind, 99), stages.get(r.stage, 9)))


def update_deadline_rule(
    db: Session,
    admin: Account,
    rule_id: int,
    *,
    days: int,
    unit: str,
    max_extensions: int,
    extension_days: int,
    now: dt.datetime | None = None,
) -> DeadlineRule:
    """Change one rule; cases already received keep the deadlines they were given."""
    _require_admin(admin)
    rule = _owned(db, DeadlineRule, rule_id, admin)
    if (
        unit not in {u.value for u in DayUnit}
        or not 1 <= days <= MAX_DAYS
        or not 0 <= max_extensions <= MAX_EXTENSIONS
        or not 0 <= extension_days <= MAX_DAYS
        or (max_extensions > 0 and extension_days == 0)
    ):
        raise InvalidSubmission()
    before = (rule.days, rule.unit, rule.max_extensions, rule.extension_days)
    after = (days, unit, max_extensions, extension_days)
    if before != after:
        rule.days, rule.unit, rule.max_extensions, rule.extension_days = after
        _audit(
            db,
            admin,
            "admin.deadline_changed",
            {"kind": rule.kind, "stage": rule.stage, "from": list(before), "to": list(after)},
            now,
        )
        db.flush()
    return rule


# --- staff ---------------------------------------------------------------------------------


def staff_accounts(db: Session, admin: Account) -> list[Account]:
    order = (Account.active.desc(), Account.role, Account.body_id, Account.display_name)
    return _listed(db, Account, admin, *order)
