"""Staff accounts: creating one, logging in and out, the two-step enrolment, passwords.

Organisations and their bodies are set up by `service.admin.organisations`."""

from __future__ import annotations

import datetime as dt
import math
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
from service.platform.unit_of_work import commit_exception
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


# Throttling, never a lockout: three failures in a row are free; from the fourth on, each
# failure makes the account wait before its next check — 5 s, 10 s, 20 s, 40 s, then 60 s at
# most, however many failures follow. The wait is checked before any Argon2id runs, so an
# attempt during it costs no hashing and answers alike for a right and a wrong password; it is
# refused and counted (the next failure waits the longer delay) but does not move the end of the
# wait, so no stream of requests can keep the account shut for more than a minute after its
# last checked failure. The right password and code log in as soon as the wait is over.
# `Account.locked_until` holds the end of the wait ("not before"), `failed_logins` the count.
FREE_FAILURES = 3
FIRST_DELAY = dt.timedelta(seconds=5)
LONGEST_DELAY = dt.timedelta(seconds=60)


def delay_after(failures: int) -> dt.timedelta:
    """How long the account waits after its `failures`-th checked failure in a row."""
    if failures <= FREE_FAILURES:
        return dt.timedelta(0)
    doublings = min(failures - FREE_FAILURES - 1, 12)
    return min(FIRST_DELAY * 2**doublings, LONGEST_DELAY)


def _wait_left(not_before: dt.datetime | None, now: dt.datetime) -> int | None:
    """Whole seconds (rounded up) until `not_before`, or None when there is no wait."""
    if not_before is None or now >= not_before:
        return None
    return math.ceil((not_before - now).total_seconds())


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

    Whatever fails — unknown email, wrong password, wrong or replayed code, a deactivated
    account, an attempt during the account's wait — raises LoginFailed with one message (which
    gives the wait, if any, never whether the password was right). The wait is checked first,
    before any hashing. The slow Argon2id checks run outside any write lock; the account row is
    locked only for the quick second step, so one TOTP code cannot be accepted twice by two
    concurrent requests.
    """
    now = now or utcnow()
    found = db.execute(
        select(
            Account.id, Account.password_hash, Account.wrapped_private_key, Account.locked_until
        ).where(Account.organisation_id == organisation.id, Account.email == normalise_email(email))
    ).first()
    db.rollback()
    if found is None:
        staff_keys.check_password(password, _absent_hash(profile))
        raise LoginFailed()
    if _wait_left(found.locked_until, now) is not None:
        _login_failed(db, found.id, now, throttled=True)
    private_key = _unlock(found.password_hash, found.wrapped_private_key, password)
    account = db.execute(
        select(Account).where(Account.id == found.id).with_for_update()
    ).scalar_one()
    if _wait_left(account.locked_until, now) is not None:  # a concurrent failure, meanwhile
        _login_failed(db, account.id, now, throttled=True)
    if private_key is None or not account.active or account.password_hash != found.password_hash:
        _login_failed(db, account.id, now)
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


def _unlock(password_hash: str, wrapped_private_key: bytes, password: str) -> bytes | None:
    """The private key, if `password` is the account's (the Argon2id checks), else None."""
    if not staff_keys.check_password(password, password_hash):
        return None
    try:
        return staff_keys.unlock_private_key(wrapped_private_key, password)
    except SealingError:
        return None


def _second_factor(db: Session, account: Account, code: str | None, now: dt.datetime) -> str:
    cleaned = twofactor.clean_code(code)
    secret = twofactor.open_secret(account)
    if secret is not None and twofactor.accept_totp(account, secret, cleaned, now):
        return "totp"
    if twofactor.use_recovery_code(db, account, cleaned, now):
        return "recovery_code"
    _login_failed(db, account.id, now)


def _login_failed(
    db: Session, account_id: int, now: dt.datetime, *, throttled: bool = False
) -> NoReturn:
    """Count the failure, commit that alone, refuse.

    A checked failure (`throttled` False) starts the wait its count calls for; an attempt
    refused during the wait is counted but leaves the wait's end where it is.
    """
    db.rollback()  # nothing of the attempt but the count is kept (e.g. no spent code)
    account = db.execute(
        select(Account).where(Account.id == account_id).with_for_update()
    ).scalar_one()
    account.failed_logins += 1
    if not throttled:
        delay = delay_after(account.failed_logins)
        account.locked_until = now + delay if delay else None
    wait = _wait_left(account.locked_until, now)
    record_event(
        db,
        organisation_id=account.organisation_id,
        action="staff.login_failed",
        actor=Actor.system(),
        details={
            "account": account.id,
            "failures": account.failed_logins,
            "throttled": throttled,
            "wait_seconds": wait or 0,
        },
        now=now,
    )
    commit_exception(db, "failed-login")
    raise LoginFailed(retry_after=wait)


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
