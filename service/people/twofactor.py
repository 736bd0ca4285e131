"""The second step of a staff login: TOTP codes (RFC 6238, pyotp) and one-time recovery codes.

The TOTP secret is stored sealed (AES-256-GCM) under a key derived with HKDF from SECRET_KEY,
bound to the account's id. The trade-off: a copy of the database alone yields no secret, but
whoever holds both the database and SECRET_KEY can compute codes. That still opens no case —
every case key is wrapped to a private key that only the account's password unlocks — so TOTP
stays what it is meant to be, a second factor against a guessed or phished password. Changing
SECRET_KEY makes every stored secret unreadable: each person then sets up the app again (an
administrator's reset link, or `flask --app wsgi account reset-2fa`).

A code is accepted once: the last accepted time step is remembered per account and only later
steps count. Recovery codes are random (80 bits), stored as salted SHA-256, each usable once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import unicodedata

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.models import Account, RecoveryCode
from service.sealing import SealingError, server

INTERVAL = 30  # seconds per time step
DIGITS = 6
WINDOW = 1  # steps accepted either side of now: clocks of phones drift
ISSUER = "Hòm thư kín"
RECOVERY_CODES = 10
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RECOVERY_LENGTH = 16  # 80 bits
_CONFUSABLES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]")


# --- the sealed secret ---------------------------------------------------------------------


def new_secret() -> str:
    return pyotp.random_base32()


def seal_secret(account: Account, secret: str) -> bytes:
    return server.seal_totp_secret(server.server_secret_of(account), account.id, secret)


def open_secret(account: Account) -> str | None:
    """The account's TOTP secret, or None if it has none or it cannot be opened any more."""
    if account.totp_secret_ct is None:
        return None
    try:
        return server.open_totp_secret(
            server.server_secret_of(account), account.id, account.totp_secret_ct
        )
    except SealingError:
        return None


def provisioning_uri(secret: str, account: Account, organisation_name: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).provisioning_uri(
        name=f"{account.email} ({organisation_name})"[:120], issuer_name=ISSUER
    )


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# --- codes ---------------------------------------------------------------------------------


def time_step(now: dt.datetime) -> int:
    return int(now.timestamp()) // INTERVAL


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).generate_otp(step)


def current_code(secret: str, now: dt.datetime) -> str:
    return code_at(secret, time_step(now))


def looks_like_totp(code: str) -> bool:
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def clean_code(code: str | None) -> str:
    """What the person typed, without spaces or dashes, upper case (O/I/L read as 0/1/1)."""
    text = unicodedata.normalize("NFKC", code or "")
    return _SEPARATORS.sub("", text).upper()


def accept_totp(account: Account, secret: str, code: str, now: dt.datetime) -> bool:
    """True, and the step remembered, if `code` is right for a step not used before."""
    if not looks_like_totp(code):
        return False
    now_step = time_step(now)
    for step in range(now_step - WINDOW, now_step + WINDOW + 1):
        if account.totp_last_step is not None and step <= account.totp_last_step:
            continue
        if hmac.compare_digest(code_at(secret, step), code):
            account.totp_last_step = step
            return True
    return False


# --- recovery codes ------------------------------------------------------------------------


def _recovery_hash(account_id: int, code: str) -> str:
    cleaned = code.translate(_CONFUSABLES)
    return hashlib.sha256(f"homthu recovery code v1:{account_id}:{cleaned}".encode()).hexdigest()


def new_recovery_codes(db: Session, account: Account) -> list[str]:
    """Replace the account's recovery codes; the codes are returned once and stored hashed."""
    db.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        code = "".join(secrets.choice(_CROCKFORD) for _ in range(_RECOVERY_LENGTH))
        db.add(RecoveryCode(account_id=account.id, code_hash=_recovery_hash(account.id, code)))
        codes.append("-".join(code[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4)))
    return codes


def use_recovery_code(db: Session, account: Account, code: str, now: dt.datetime) -> bool:
    """True, and the code spent, if `code` is one of the account's unused recovery codes."""
    if len(code) != _RECOVERY_LENGTH:
        return False
    row = db.scalar(
        select(RecoveryCode).where(
            RecoveryCode.account_id == account.id,
            RecoveryCode.code_hash == _recovery_hash(account.id, code),
            RecoveryCode.used_at.is_(None),
        )
    )
    if row is None:
        return False
    row.used_at = now
    return True


def recovery_codes_left(db: Session, account: Account) -> int:
    return len(
        db.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )


def forget(db: Session, account: Account) -> None:
    """Remove the account's two-step setup: it enrols again at its next login."""
    account.totp_secret_ct = None
    account.totp_enrolled_at = None
    account.totp_last_step = None
    db.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))


def enrol(db: Session, account: Account, secret: str, now: dt.datetime) -> list[str]:
    """Store `secret` as the account's confirmed TOTP secret; return new recovery codes.

    The caller has checked a code made with it (or, for demo data, made the secret itself).
    """
    account.totp_secret_ct = seal_secret(account, secret)
    account.totp_enrolled_at = now
    return new_recovery_codes(db, account)
