"""Setting up a unit: the organisation, its receiving bodies with their recovery keys, and
the default rules (routing, legal clocks, retention) seeded from the law."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.trail import Actor, record_event
from service.cases.retention import seed_retention
from service.models import Body, BodyKind, Organisation
from service.platform.clock import utcnow
from service.platform.errors import InvalidSubmission
from service.rules.policy import seed_rules
from service.sealing import recovery
from service.sealing.profiles import KdfProfile

# The two bodies the design card names; a head-of-unit body can be added later.
STANDARD_BODIES = (
    ("CD", BodyKind.TRADE_UNION, "Công đoàn", "Trade Union"),
    ("TTND", BodyKind.INSPECTION_BOARD, "Ban Thanh tra nhân dân", "People's Inspection Board"),
)


@dataclass(frozen=True)
class NewBody:
    body: Body
    recovery_code: str  # shown once, for the chair to keep on paper; stored nowhere


def create_organisation(
    db: Session,
    *,
    name: str,
    slug: str,
    profile: KdfProfile,
    is_demo: bool = False,
    now: dt.datetime | None = None,
) -> tuple[Organisation, list[NewBody]]:
    """Create a unit with the Trade Union and the Inspection Board (in the caller's transaction)."""
    now = now or utcnow()
    organisation = Organisation(
        slug=slug,
        name=name,
        is_demo=is_demo,
        receipt_salt=secrets.token_bytes(16),
        receipt_kdf=profile.encode(),
        created_at=now,
    )
    db.add(organisation)
    db.flush()
    bodies = [
        add_body(db, organisation, code=code, kind=kind, name_vi=vi, name_en=en, position=i)
        for i, (code, kind, vi, en) in enumerate(STANDARD_BODIES)
    ]
    seed_rules(db, organisation, [new.body for new in bodies])
    seed_retention(db, organisation)
    record_event(
        db,
        organisation_id=organisation.id,
        action="organisation.created",
        actor=Actor.system(),
        details={"slug": slug, "demo": is_demo},
        now=now,
    )
    return organisation, bodies


def add_body(
    db: Session,
    organisation: Organisation,
    *,
    code: str,
    kind: BodyKind,
    name_vi: str,
    name_en: str,
    position: int = 0,
) -> NewBody:
    """A new body with a fresh recovery key pair; the private half leaves only as a code."""
    recovery_key = recovery.new_recovery_key()
    body = Body(
        organisation_id=organisation.id,
        code=code,
        kind=kind,
        name_vi=name_vi,
        name_en=name_en,
        position=position,
        active=True,
        recovery_public_key=recovery_key.public_key,
    )
    db.add(body)
    db.flush()
    return NewBody(body, recovery_key.paper_code)


BODY_CODE = re.compile(r"[A-Z][A-Z0-9]{0,15}")  # the prefix of its case references


def create_body(
    db: Session,
    organisation: Organisation,
    *,
    code: str,
    kind: BodyKind,
    name_vi: str,
    name_en: str,
    actor: Actor | None = None,
    action: str = "body.created",
    now: dt.datetime | None = None,
) -> NewBody:
    """Add a body to a unit — e.g. the head of unit (Thủ trưởng đơn vị), to whom the law lets a
    reporter take a matter — with a recovery key of its own whose code is returned once and
    stored nowhere; placed after the existing bodies. Audited as `action` by `actor` (the
    command line: the system). Routing never gives it a case about the head of unit
    (rules.eligible_bodies), and no transfer does either (custody.transfer_case)."""
    code = code.strip().upper()
    if not BODY_CODE.fullmatch(code) or not name_vi.strip() or not name_en.strip():
        raise InvalidSubmission()
    existing = db.scalars(select(Body).where(Body.organisation_id == organisation.id)).all()
    if code in {body.code for body in existing}:
        raise InvalidSubmission(_l("A body with this code exists already."))
    new = add_body(
        db,
        organisation,
        code=code,
        kind=kind,
        name_vi=name_vi.strip(),
        name_en=name_en.strip(),
        position=max((body.position for body in existing), default=-1) + 1,
    )
    record_event(
        db,
        organisation_id=organisation.id,
        action=action,
        actor=actor or Actor.system(),
        details={"body": code, "kind": str(kind)},
        now=now,
    )
    db.flush()
    return new
