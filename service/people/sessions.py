"""Server-side sessions keyed by a secret that only the browser holds (DESIGN.md §5).

The cookie carries ``<id>.<key>``: the database stores SHA-256(id) and, sealed under ``key``, the
secret the session unlocks (a handler's private key, or a reporter's case id and key). Neither a
database dump without live cookies nor a cookie without the database opens anything.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, delete, update
from sqlalchemy.orm import Session

from service.models import Account, ReporterSession, StaffSession
from service.platform.clock import local_today, utcnow
from service.platform.unit_of_work import commit_exception
from service.sealing import cookies

STAFF_COOKIE = "homthu_staff"
REPORTER_COOKIE = "homthu_followup"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SessionToken:
    """The cookie's value, split into the row id and the sealing key."""

    row_id: str
    key: bytes

    @classmethod
    def new(cls) -> tuple[SessionToken, str]:
        raw_id, key = secrets.token_bytes(32), secrets.token_bytes(32)
        token = cls(hashlib.sha256(raw_id).hexdigest(), key)
        return token, f"{_b64(raw_id)}.{_b64(key)}"

    @classmethod
    def parse(cls, cookie: str | None) -> SessionToken | None:
        try:
            raw_id_text, key_text = (cookie or "").split(".")
            raw_id, key = _unb64(raw_id_text), _unb64(key_text)
        except ValueError:
            return None
        if len(raw_id) != 32 or len(key) != 32:
            return None
        return cls(hashlib.sha256(raw_id).hexdigest(), key)

    def seal(self, secret: bytes) -> bytes:
        return cookies.seal_for_cookie(self.key, self.row_id, secret)

    def open(self, sealed: bytes) -> bytes | None:
        return cookies.open_with_cookie(self.key, self.row_id, sealed)


# --- staff ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffSessionPolicy:
    idle: dt.timedelta
    absolute: dt.timedelta


FULL = "full"
ENROL = "enrol"  # password right, two-step login not set up yet: only the set-up pages open
ENROL_TIME = dt.timedelta(minutes=15)

# Why a session was ended for its owner (StaffSession.ended).
DEACTIVATED = "deactivated"
PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a reason, not a password
PASSWORD_RESET = "password_reset"  # noqa: S105


@dataclass(frozen=True)
class OpenStaffSession:
    row: StaffSession
    account: Account
    private_key: bytes = field(repr=False)  # never in a repr, hence never in a log line

    @property
    def stage(self) -> str:
        return self.row.stage


@dataclass(frozen=True)
class EndedStaffSession:
    """The cookie's session was ended on purpose (see the reasons above): say so once."""

    reason: str


def create_staff_session(
    db: Session,
    account: Account,
    private_key: bytes,
    policy: StaffSessionPolicy,
    now: dt.datetime | None = None,
    stage: str = FULL,
) -> str:
    """Add a session row for `account`; return the cookie value (in the caller's transaction).

    Every call makes a new id: a login never continues an earlier session. (Expired rows, and
    the emptied rows of sessions ended on purpose, go with `flask --app wsgi sessions purge`.)
    """
    now = now or utcnow()
    token, cookie = SessionToken.new()
    lifetime = policy.absolute if stage == FULL else min(policy.absolute, ENROL_TIME)
    db.add(
        StaffSession(
            id=token.row_id,
            account_id=account.id,
            sealed=token.seal(private_key),
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            stage=stage,
        )
    )
    return cookie


def load_staff_session(
    db: Session, cookie: str | None, policy: StaffSessionPolicy, now: dt.datetime | None = None
) -> OpenStaffSession | EndedStaffSession | None:
    """The live session behind `cookie`, its idle clock refreshed; None if absent or expired;
    EndedStaffSession (once) if it was ended on purpose, e.g. its account was deactivated."""
    now = now or utcnow()
    token = SessionToken.parse(cookie)
    row = db.get(StaffSession, token.row_id) if token else None
    if row is None or token is None:
        return None
    account = db.get(Account, row.account_id)
    if row.ended or account is None or not account.active:
        reason = row.ended or DEACTIVATED
        _drop_dead_session(db, row)
        return EndedStaffSession(reason)
    expired = now >= row.expires_at or now - row.last_seen_at >= policy.idle
    private_key = token.open(row.sealed)
    if expired or private_key is None:
        _drop_dead_session(db, row)
        return None
    if now - row.last_seen_at >= dt.timedelta(minutes=1):  # one write a minute is enough
        row.last_seen_at = now
    return OpenStaffSession(row, account, private_key)


def _drop_dead_session(db: Session, row: StaffSession) -> None:
    """Delete a session that can no longer be used, at once: the request answers 401/403, so
    the request's own commit would not keep it, and the reason would be said more than once."""
    db.delete(row)
    commit_exception(db, "dead-staff-session")


def end_staff_session(db: Session, cookie: str | None) -> None:
    token = SessionToken.parse(cookie)
    if token:
        db.execute(delete(StaffSession).where(StaffSession.id == token.row_id))


def end_all_staff_sessions(db: Session, account_id: int, reason: str | None = None) -> None:
    """End every session of an account (in the caller's transaction).

    With a reason, each row is kept empty — its sealed key gone — so that the next request
    with its cookie can say why the session ended instead of a bare "log in again".
    """
    if reason is None:
        db.execute(delete(StaffSession).where(StaffSession.account_id == account_id))
        return
    db.execute(
        update(StaffSession)
        .where(StaffSession.account_id == account_id)
        .values(sealed=b"", ended=reason)
    )


# --- reporters -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReporterAccess:
    """What a reporter's follow-up session unlocks: one case, with the receipt-derived key."""

    case_id: str
    private_key: bytes = field(repr=False)  # never in a repr, hence never in a log line


def create_reporter_session(
    db: Session, access: ReporterAccess, idle: dt.timedelta, now: dt.datetime | None = None
) -> str:
    """Add a follow-up session; return the cookie value (in the caller's transaction).

    The expiry and the case id are sealed inside the row, so the table records neither when a
    reporter was active nor on which case: only a day after which the row may be purged.
    """
    now = now or utcnow()
    token, cookie = SessionToken.new()
    db.add(
        ReporterSession(
            id=token.row_id,
            sealed=_seal_reporter(token, access, now + idle),
            purge_after=local_today(now + idle) + dt.timedelta(days=1),
        )
    )
    return cookie


def _seal_reporter(token: SessionToken, access: ReporterAccess, expires: dt.datetime) -> bytes:
    payload = {
        "case": access.case_id,
        "key": _b64(access.private_key),
        "expires": expires.astimezone(dt.UTC).isoformat(),
    }
    return token.seal(json.dumps(payload).encode())


def load_reporter_session(
    db: Session, cookie: str | None, idle: dt.timedelta, now: dt.datetime | None = None
) -> ReporterAccess | None:
    """The reporter's access behind `cookie`, its idle clock restarted; None if expired."""
    now = now or utcnow()
    token = SessionToken.parse(cookie)
    row = db.get(ReporterSession, token.row_id) if token else None
    opened = token.open(row.sealed) if row is not None and token else None
    if token is None or row is None or opened is None:
        return None
    payload = json.loads(opened)
    if now >= dt.datetime.fromisoformat(payload["expires"]):
        # Kept only if the request succeeds; else `sessions purge` removes the row (no hurry:
        # it opens nothing without its cookie, see purge_expired_sessions).
        db.delete(row)
        return None
    access = ReporterAccess(payload["case"], _unb64(payload["key"]))
    row.sealed = _seal_reporter(token, access, now + idle)
    row.purge_after = local_today(now + idle) + dt.timedelta(days=1)
    return access


def end_reporter_session(db: Session, cookie: str | None) -> None:
    token = SessionToken.parse(cookie)
    if token:
        db.execute(delete(ReporterSession).where(ReporterSession.id == token.row_id))


def purge_expired_sessions(db: Session, now: dt.datetime | None = None) -> tuple[int, int]:
    """Delete expired staff sessions and reporter sessions past their purge day.

    Run from cron (`flask --app wsgi sessions purge`), not on the reporter's request: an
    expired row opens nothing without its cookie, so there is no hurry, and the follow-up
    request stays one derivation and three statements.
    """
    now = now or utcnow()
    staff = db.execute(delete(StaffSession).where(StaffSession.expires_at <= now))
    reporters = db.execute(
        delete(ReporterSession).where(ReporterSession.purge_after < local_today(now))
    )
    return cast("CursorResult[Any]", staff).rowcount, cast("CursorResult[Any]", reporters).rowcount
