"""Organisations, bodies and staff accounts; staff login and logout."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import crypto

from .audit import Actor, record_event
from .clock import utcnow
from .errors import InvalidSubmission, LoginFailed
from .models import Account, Body, BodyKind, Organisation, Role
from .rules import seed_rules
from .sessions import StaffSessionPolicy, create_staff_session, end_staff_session

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
    profile: crypto.KdfProfile,
    is_demo: bool = False,
    now: dt.datetime | None = None,
) -> tuple[Organisation, list[NewBody]]:
    """Create a unit with the Trade Union and the Inspection Board (caller commits)."""
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
    private, public = crypto.generate_keypair()
    body = Body(
        organisation_id=organisation.id,
        code=code,
        kind=kind,
        name_vi=name_vi,
        name_en=name_en,
        position=position,
        active=True,
        recovery_public_key=public,
    )
    db.add(body)
    db.flush()
    return NewBody(body, crypto.encode_recovery_code(private))


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_account(
    db: Session,
    organisation: Organisation,
    *,
    email: str,
    display_name: str,
    role: Role,
    password: str,
    profile: crypto.KdfProfile,
    body: Body | None = None,
    now: dt.datetime | None = None,
) -> Account:
    """A staff account with its own X25519 key pair, the private key wrapped by the password."""
    if (role == Role.ADMIN) != (body is None):
        raise InvalidSubmission("Handlers and chairs belong to a body; administrators to none.")
    email = normalise_email(email)
    taken = db.scalar(
        select(func.count())
        .select_from(Account)
        .where(Account.organisation_id == organisation.id, Account.email == email)
    )
    if taken:
        raise InvalidSubmission("An account with this email exists already.")
    private, public = crypto.generate_keypair()
    account = Account(
        organisation_id=organisation.id,
        body_id=body.id if body else None,
        email=email,
        display_name=display_name,
        role=role,
        active=True,
        password_hash=crypto.hash_password(password, profile),
        public_key=public,
        wrapped_private_key=crypto.wrap_private_key(private, password, profile),
        created_at=now or utcnow(),
    )
    db.add(account)
    db.flush()
    record_event(
        db,
        organisation_id=organisation.id,
        action="account.created",
        actor=Actor.system(),
        details={"account": account.id, "role": str(role), "body": body.code if body else None},
        now=now,
    )
    return account


# Verified against when the email is unknown, so a miss costs what a hit costs.
_ABSENT_HASH_CACHE: dict[str, str] = {}


def _absent_hash(profile: crypto.KdfProfile) -> str:
    key = profile.encode()
    if key not in _ABSENT_HASH_CACHE:
        _ABSENT_HASH_CACHE[key] = crypto.hash_password(secrets.token_urlsafe(16), profile)
    return _ABSENT_HASH_CACHE[key]


def authenticate(
    db: Session, organisation: Organisation, email: str, password: str, profile: crypto.KdfProfile
) -> tuple[Account, bytes]:
    """The account and its unwrapped private key; LoginFailed whatever went wrong."""
    account = db.execute(
        select(Account).where(
            Account.organisation_id == organisation.id, Account.email == normalise_email(email)
        )
    ).scalar_one_or_none()
    if account is None:
        crypto.verify_password(password, _absent_hash(profile))
        raise LoginFailed()
    if not crypto.verify_password(password, account.password_hash) or not account.active:
        raise LoginFailed()
    try:
        return account, crypto.unwrap_private_key(account.wrapped_private_key, password)
    except crypto.CryptoError:
        raise LoginFailed() from None


def log_in(
    db: Session,
    organisation: Organisation,
    email: str,
    password: str,
    *,
    profile: crypto.KdfProfile,
    policy: StaffSessionPolicy,
    now: dt.datetime | None = None,
) -> tuple[Account, str]:
    """Check the password, open a server-side session; return the account and cookie value."""
    now = now or utcnow()
    account, private_key = authenticate(db, organisation, email, password, profile)
    cookie = create_staff_session(db, account, private_key, policy, now)
    record_event(
        db,
        organisation_id=organisation.id,
        action="staff.login",
        actor=Actor.staff(account),
        now=now,
    )
    db.commit()
    return account, cookie


def log_out(db: Session, account: Account, cookie: str | None) -> None:
    end_staff_session(db, cookie)
    record_event(
        db,
        organisation_id=account.organisation_id,
        action="staff.logout",
        actor=Actor.staff(account),
    )
    db.commit()
