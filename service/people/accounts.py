"""Staff accounts: creating one, logging in and out, the two-step enrolment, passwords.

Organisations and their bodies are set up by `service.admin.organisations`."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import NoReturn

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.trail import Actor, record_event
from service.mail.outbox import enqueue_mail
from service.models import Account, Body, Organisation, Role
from service.people import sessions, twofactor
from service.people.passwords import password_problems
from service.people.principal import Principal
from service.people.sessions import (
    StaffSessionPolicy,
    create_staff_session,
    end_all_staff_sessions,
    end_staff_session,
)
from service.platform.clock import utcnow
from service.platform.errors import CodeRejected, InvalidSubmission, LoginFailed
from service.sealing import SealingError, staff_keys
from service.sealing.profiles import KdfProfile


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
    profile: KdfProfile,
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
    keys = staff_keys.new_staff_keys(password, profile)
    account = Account(
        organisation_id=organisation.id,
        body_id=body.id if body else None,
        email=email,
        display_name=display_name,
        role=role,
        active=True,
        password_hash=keys.password_hash,
        public_key=keys.public_key,
        wrapped_private_key=keys.locked_private_key,
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


def _absent_hash(profile: KdfProfile) -> str:
    key = profile.encode()
    if key not in _ABSENT_HASH_CACHE:
        _ABSENT_HASH_CACHE[key] = staff_keys.hash_password(secrets.token_urlsafe(16), profile)
    return _ABSENT_HASH_CACHE[key]


# Throttling: four failures are free; from the fifth on, each failure locks the account for a
# doubling time (30 s, 1 min, 2 min, ... at most 1 h). An attempt while locked is refused with
# the same message as any other failure and does not lengthen the lock.
FREE_FAILURES = 4
FIRST_LOCK = dt.timedelta(seconds=30)
LONGEST_LOCK = dt.timedelta(hours=1)


def lock_after(failures: int) -> dt.timedelta | None:
    """How long the account stays locked after its `failures`-th failure in a row."""
    if failures <= FREE_FAILURES:
        return None
    doublings = min(failures - FREE_FAILURES - 1, 12)
    return min(FIRST_LOCK * 2**doublings, LONGEST_LOCK)


@dataclass(frozen=True)
class LoginResult:
    account: Account
    cookie: str
    stage: str  # sessions.FULL, or sessions.ENROL: set up the two-step login first
    second_factor: str | None  # "totp", "recovery_code", or None while enrolling
    recovery_codes_left: int | None = None


def log_in(
    db: Session,
    organisation: Organisation,
    email: str,
    password: str,
    code: str | None = None,
    *,
    profile: KdfProfile,
    policy: StaffSessionPolicy,
    now: dt.datetime | None = None,
) -> LoginResult:
    """Check the password and the second step; open a server-side session with a new id.

    Whatever fails — unknown email, wrong password, wrong or replayed code, a deactivated or
    locked account — raises the same LoginFailed. The slow Argon2id checks run outside any
    write lock; the account row is locked only for the quick second step, so one TOTP code
    cannot be accepted twice by two concurrent requests.
    """
    now = now or utcnow()
    found = db.execute(
        select(Account.id, Account.password_hash, Account.wrapped_private_key).where(
            Account.organisation_id == organisation.id, Account.email == normalise_email(email)
        )
    ).first()
    db.rollback()
    if found is None:
        staff_keys.check_password(password, _absent_hash(profile))
        raise LoginFailed()
    private_key = None
    if staff_keys.check_password(password, found.password_hash):
        try:
            private_key = staff_keys.unlock_private_key(found.wrapped_private_key, password)
        except SealingError:
            private_key = None
    account = db.execute(
        select(Account).where(Account.id == found.id).with_for_update()
    ).scalar_one()
    if account.locked_until is not None and now < account.locked_until:
        db.rollback()
        raise LoginFailed()
    if private_key is None or not account.active or account.password_hash != found.password_hash:
        _login_failed(db, account, now)
    stage, factor, left = sessions.FULL, None, None
    if account.totp_enrolled:
        factor = _second_factor(db, account, code, now)
        if factor == "recovery_code":
            left = twofactor.recovery_codes_left(db, account)
    else:
        stage = sessions.ENROL
    account.failed_logins = 0
    account.locked_until = None
    cookie = create_staff_session(db, account, private_key, policy, now, stage=stage)
    record_event(
        db,
        organisation_id=organisation.id,
        action="staff.login",
        actor=Actor.staff(account),
        details={"second_factor": factor or "enrolment"},
        now=now,
    )
    return LoginResult(account, cookie, stage, factor, left)


def _second_factor(db: Session, account: Account, code: str | None, now: dt.datetime) -> str:
    cleaned = twofactor.clean_code(code)
    secret = twofactor.open_secret(account)
    if secret is not None and twofactor.accept_totp(account, secret, cleaned, now):
        return "totp"
    if twofactor.use_recovery_code(db, account, cleaned, now):
        return "recovery_code"
    _login_failed(db, account, now)


def _login_failed(db: Session, account: Account, now: dt.datetime) -> NoReturn:
    """Count the failure (and lock if it is one too many), commit that alone, refuse."""
    db.rollback()  # nothing of the attempt but the count is kept (e.g. no spent code)
    account = db.execute(
        select(Account).where(Account.id == account.id).with_for_update()
    ).scalar_one()
    account.failed_logins += 1
    lock = lock_after(account.failed_logins)
    account.locked_until = now + lock if lock else None
    record_event(
        db,
        organisation_id=account.organisation_id,
        action="staff.login_failed",
        actor=Actor.system(),
        details={"account": account.id, "failures": account.failed_logins, "locked": bool(lock)},
        now=now,
    )
    db.commit()  # unit-of-work exception: failed-login (see unit_of_work.py)
    raise LoginFailed()


def confirm_enrolment(
    db: Session,
    principal: Principal,
    *,
    old_cookie: str | None,
    code: str,
    policy: StaffSessionPolicy,
    now: dt.datetime | None = None,
) -> tuple[str, list[str]]:
    """The first code from the app is right: store the secret, end the set-up session and open
    a full one (new id). Returns the new cookie and the recovery codes, shown once."""
    now = now or utcnow()
    account = db.execute(
        select(Account).where(Account.id == principal.id).with_for_update()
    ).scalar_one()
    secret = twofactor.open_secret(account)
    if account.totp_enrolled or secret is None:
        raise CodeRejected()
    if not twofactor.accept_totp(account, secret, twofactor.clean_code(code), now):
        raise CodeRejected()
    codes = twofactor.enrol(db, account, secret, now)
    end_staff_session(db, old_cookie)
    cookie = create_staff_session(db, account, principal.private_key, policy, now)
    record_event(
        db,
        organisation_id=account.organisation_id,
        action="staff.two_factor_enrolled",
        actor=Actor.staff(account),
        now=now,
    )
    return cookie, codes


def pending_totp_secret(db: Session, account: Account) -> str:
    """The secret being set up (made on the first visit of the set-up page, then kept)."""
    if account.totp_enrolled:
        raise CodeRejected()
    secret = twofactor.open_secret(account)
    if secret is None:
        secret = twofactor.new_secret()
        account.totp_secret_ct = twofactor.seal_secret(account, secret)
    return secret


def change_password(
    db: Session,
    principal: Principal,
    *,
    current_password: str,
    new_password: str,
    profile: KdfProfile,
    policy: StaffSessionPolicy,
    now: dt.datetime | None = None,
) -> str:
    """Re-wrap the private key under the new password (every case stays readable), end every
    session of the account, open a new one for this browser; return its cookie."""
    now = now or utcnow()
    account, private_key = principal.account, principal.private_key
    if not staff_keys.check_password(current_password, account.password_hash):
        raise InvalidSubmission(_l("Your current password is not correct."))
    problems = password_problems(
        new_password, email=account.email, display_name=account.display_name
    )
    if problems:
        raise InvalidSubmission(problems[0])
    account.password_hash = staff_keys.hash_password(new_password, profile)
    account.wrapped_private_key = staff_keys.lock_private_key(private_key, new_password, profile)
    end_all_staff_sessions(db, account.id, sessions.PASSWORD_CHANGED)
    cookie = create_staff_session(db, account, private_key, policy, now)
    record_event(
        db,
        organisation_id=account.organisation_id,
        action="staff.password_changed",
        actor=Actor.staff(account),
        now=now,
    )
    enqueue_mail(
        db,
        organisation_id=account.organisation_id,
        recipient=account.email,
        template="password_changed",
        now=now,
    )
    return cookie


def log_out(db: Session, account: Account, cookie: str | None) -> None:
    end_staff_session(db, cookie)
    record_event(
        db,
        organisation_id=account.organisation_id,
        action="staff.logout",
        actor=Actor.staff(account),
    )
