"""One-time links by mail: an invitation to join, or an administrator's password reset.

The administrator never sees the link: it goes through the outbox to the person's address, and
only SHA-256 of its token is stored. A link works once, until it expires (INVITE_HOURS). The
person chooses a password and their key pair is made then, in their browser's request.

A reset gives new keys: the old private key stays locked under the forgotten password, so the
old wraps are removed and the person reads nothing until a colleague (handover.grant_access) or
the body's recovery key (`flask --app wsgi keys recover`) grants the cases again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service.audit.trail import Actor, record_event
from service.cases.handover import remove_access, warn_chairs
from service.mail.outbox import enqueue_mail
from service.models import Account, Body, Invitation, InvitationPurpose, Organisation, Role
from service.people import sessions, twofactor
from service.people.accounts import create_account, normalise_email
from service.people.passwords import password_problems
from service.people.sessions import StaffSessionPolicy, create_staff_session
from service.platform.clock import utcnow
from service.platform.errors import InvalidSubmission, LinkExpired, NotFound
from service.sealing import staff_keys
from service.sealing.profiles import KdfProfile


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, _hash(token)


def _link(base_url: str, token: str) -> str:
    return f"{base_url}/board/invite/{token}"


def _email_taken(db: Session, organisation_id: int, email: str, now: dt.datetime) -> bool:
    accounts = db.scalar(
        select(func.count())
        .select_from(Account)
        .where(Account.organisation_id == organisation_id, Account.email == email)
    )
    pending = db.scalar(
        select(func.count())
        .select_from(Invitation)
        .where(
            Invitation.organisation_id == organisation_id,
            Invitation.email == email,
            Invitation.purpose == InvitationPurpose.INVITE,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
    )
    return bool(accounts or pending)


def invite(
    db: Session,
    admin: Account,
    *,
    email: str,
    display_name: str,
    role: Role,
    body_id: int | None,
    base_url: str,
    hours: int,
    now: dt.datetime | None = None,
) -> Invitation:
    """Send a one-time link to a new handler, chair or administrator."""
    now = now or utcnow()
    email = normalise_email(email)
    body = None
    if role in (Role.HANDLER, Role.CHAIR):
        body = db.get(Body, body_id) if body_id is not None else None
        if body is None or body.organisation_id != admin.organisation_id or not body.active:
            raise InvalidSubmission()
    elif role != Role.ADMIN or body_id is not None:
        raise InvalidSubmission()
    if not display_name.strip() or "@" not in email:
        raise InvalidSubmission()
    if _email_taken(db, admin.organisation_id, email, now):
        raise InvalidSubmission(
            _l("An account or an open invitation with this email exists already.")
        )
    invitation = _send(
        db,
        admin,
        Invitation(
            purpose=InvitationPurpose.INVITE,
            email=email,
            display_name=display_name.strip(),
            role=role,
            body_id=body.id if body else None,
        ),
        action="account.invited",
        details={"role": str(role), "body": body.code if body else None},
        template="invitation",
        base_url=base_url,
        hours=hours,
        now=now,
    )
    db.flush()
    return invitation


def reset_password(
    db: Session, admin: Account, account_id: int, *, base_url: str, hours: int, now=None
) -> Invitation:
    """Send a reset link to an account's address; earlier reset links stop working."""
    now = now or utcnow()
    account = db.get(Account, account_id)
    if account is None or account.organisation_id != admin.organisation_id:
        raise NotFound()
    if not account.active or account.id == admin.id:
        raise InvalidSubmission()
    db.execute(
        update(Invitation)
        .where(
            Invitation.account_id == account.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    invitation = _send(
        db,
        admin,
        Invitation(
            purpose=InvitationPurpose.RESET,
            email=account.email,
            display_name=account.display_name,
            role=account.role,
            body_id=account.body_id,
            account_id=account.id,
        ),
        action="account.reset_sent",
        details={"account": account.id},
        template="password_reset",
        base_url=base_url,
        hours=hours,
        now=now,
    )
    db.flush()
    return invitation


def _send(
    db: Session,
    admin: Account,
    invitation: Invitation,
    *,
    action: str,
    details: dict,
    template: str,
    base_url: str,
    hours: int,
    now: dt.datetime,
) -> Invitation:
    """Store the invitation with a fresh token's hash; audit it; mail the link (no commit)."""
    token, invitation.token_hash = _new_token()
    invitation.organisation_id = admin.organisation_id
    invitation.created_by = admin.id
    invitation.created_at = now
    invitation.expires_at = now + dt.timedelta(hours=hours)
    db.add(invitation)
    db.flush()
    record_event(
        db,
        organisation_id=admin.organisation_id,
        action=action,
        actor=Actor.staff(admin),
        details={"invitation": invitation.id, **details},
        now=now,
    )
    enqueue_mail(
        db,
        organisation_id=admin.organisation_id,
        recipient=invitation.email,
        template=template,
        context={"link": _link(base_url, token), "hours": hours},
        now=now,
        carries_secret=True,  # the link opens an account: never readable from the database
    )
    return invitation


def revoke(db: Session, admin: Account, invitation_id: int, now=None) -> None:
    now = now or utcnow()
    invitation = db.get(Invitation, invitation_id)
    if invitation is None or invitation.organisation_id != admin.organisation_id:
        raise NotFound()
    if invitation.used_at is not None or invitation.revoked_at is not None:
        return
    invitation.revoked_at = now
    record_event(
        db,
        organisation_id=admin.organisation_id,
        action="account.invitation_revoked",
        actor=Actor.staff(admin),
        details={"invitation": invitation.id},
        now=now,
    )


def open_invitations(db: Session, organisation_id: int, now: dt.datetime) -> list[Invitation]:
    return list(
        db.scalars(
            select(Invitation)
            .where(
                Invitation.organisation_id == organisation_id,
                Invitation.used_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
            )
            .order_by(Invitation.created_at)
        )
    )


def find(db: Session, organisation: Organisation, token: str, now=None) -> Invitation:
    """The open invitation behind a link's token; LinkExpired for anything else."""
    now = now or utcnow()
    invitation = db.scalar(select(Invitation).where(Invitation.token_hash == _hash(token)))
    if (
        invitation is None
        or invitation.organisation_id != organisation.id
        or not invitation.is_open(now)
    ):
        raise LinkExpired()
    return invitation


@dataclass(frozen=True)
class Accepted:
    account: Account
    cookie: str  # a session in the set-up stage: the two-step login comes next


def accept(
    db: Session,
    organisation: Organisation,
    token: str,
    password: str,
    *,
    profile: KdfProfile,
    policy: StaffSessionPolicy,
    now: dt.datetime | None = None,
) -> Accepted:
    """Use the link: choose the password, make the key pair, start setting up TOTP.

    Everything happens in one transaction or not at all; the link is spent only if it does.
    """
    now = now or utcnow()
    invitation = db.execute(
        select(Invitation).where(Invitation.token_hash == _hash(token)).with_for_update()
    ).scalar_one_or_none()
    if (
        invitation is None
        or invitation.organisation_id != organisation.id
        or not invitation.is_open(now)
    ):
        raise LinkExpired()
    problems = password_problems(
        password, email=invitation.email, display_name=invitation.display_name
    )
    if problems:
        raise InvalidSubmission(problems[0])
    account: Account | None
    if invitation.purpose == InvitationPurpose.INVITE:
        body = db.get(Body, invitation.body_id) if invitation.body_id else None
        if body is not None and not body.active:
            raise LinkExpired()
        account = create_account(
            db,
            organisation,
            email=invitation.email,
            display_name=invitation.display_name,
            role=Role(invitation.role),
            password=password,
            profile=profile,
            body=body,
            now=now,
        )
        private_key = staff_keys.unlock_private_key(account.wrapped_private_key, password)
        action = "account.invitation_accepted"
    else:
        account = db.get(Account, invitation.account_id)
        if account is None or not account.active:
            raise LinkExpired()
        private_key = _new_keys(db, account, password, profile, now)
        action = "account.password_reset"
    invitation.used_at = now
    cookie = create_staff_session(db, account, private_key, policy, now, stage=sessions.ENROL)
    record_event(
        db,
        organisation_id=organisation.id,
        action=action,
        actor=Actor.staff(account),
        details={"invitation": invitation.id},
        now=now,
    )
    db.flush()
    return Accepted(account, cookie)


def _new_keys(
    db: Session, account: Account, password: str, profile: KdfProfile, now: dt.datetime
) -> bytes:
    """After a reset: a new key pair and password, no old access, a new two-step set-up."""
    keys = staff_keys.new_staff_keys(password, profile)
    account.password_hash = keys.password_hash
    account.public_key = keys.public_key
    account.wrapped_private_key = keys.locked_private_key
    account.failed_logins = 0
    account.locked_until = None
    twofactor.forget(db, account)
    actor = Actor.staff(account)
    remove_access(db, account, actor, now, unassign=False)
    sessions.end_all_staff_sessions(db, account.id, sessions.PASSWORD_RESET)
    if account.body_id:
        warn_chairs(db, account.body_id, now)
    return keys.private_key
