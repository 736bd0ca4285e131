"""Case keys and their wraps: who can open what, enforced by the keys themselves.

A case has up to three random keys (see models.KeyPurpose). Each is wrapped to the X25519 public
key of every recipient entitled to it. Opening a case means finding one's own wrap and unwrapping
it with one's private key; without a wrap there is nothing to open, whatever a check says.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

import crypto

from .errors import KeyUnavailable
from .models import Account, Body, Case, CaseKeyWrap, KeyPurpose


@dataclass(frozen=True)
class CaseKeys:
    """The unwrapped keys of one case that one person holds (None where they hold none)."""

    case: bytes
    staff: bytes | None = None
    identity: bytes | None = None

    @classmethod
    def generate(cls, *, with_identity: bool) -> CaseKeys:
        return cls(
            case=crypto.new_data_key(),
            staff=crypto.new_data_key(),
            identity=crypto.new_data_key() if with_identity else None,
        )

    def get(self, purpose: KeyPurpose) -> bytes | None:
        return {
            KeyPurpose.CASE: self.case,
            KeyPurpose.STAFF: self.staff,
            KeyPurpose.IDENTITY: self.identity,
        }[purpose]


def wrap_context(case_id: str, purpose: str) -> bytes:
    """Associated data of a wrap: a wrap cannot be moved to another case or purpose."""
    return crypto.field_ad(case_id, f"key.{purpose}")


def _wrap(
    case_id: str,
    purpose: KeyPurpose,
    key: bytes,
    public_key: bytes,
    *,
    recipient: str,
    account_id: int | None = None,
    body_id: int | None = None,
) -> CaseKeyWrap:
    return CaseKeyWrap(
        case_id=case_id,
        purpose=purpose,
        recipient=recipient,
        account_id=account_id,
        body_id=body_id,
        wrapped=crypto.wrap_key(public_key, key, wrap_context(case_id, purpose)),
    )


def wraps_for_account(
    case_id: str, keys: CaseKeys, account: Account, purposes: tuple[KeyPurpose, ...]
) -> list[CaseKeyWrap]:
    """The case's keys encrypted for a handler or chair: each purpose listed that `keys` holds."""
    return [
        _wrap(
            case_id,
            purpose,
            key,
            account.public_key,
            recipient=f"account:{account.id}",
            account_id=account.id,
        )
        for purpose in purposes
        if (key := keys.get(purpose)) is not None
    ]


def wraps_for_recovery(case_id: str, keys: CaseKeys, body: Body) -> list[CaseKeyWrap]:
    """Every key of the case encrypted for the body's paper recovery key."""
    return [
        _wrap(
            case_id,
            purpose,
            key,
            body.recovery_public_key,
            recipient=f"recovery:{body.id}",
            body_id=body.id,
        )
        for purpose in KeyPurpose
        if (key := keys.get(purpose)) is not None
    ]


def wrap_for_reporter(case_id: str, keys: CaseKeys, reporter_public: bytes) -> CaseKeyWrap:
    """The shared case key encrypted for the reporter: replies open with the receipt alone."""
    return _wrap(case_id, KeyPurpose.CASE, keys.case, reporter_public, recipient="reporter")


def wrap_for_account(
    db: Session, case_id: str, keys: CaseKeys, account: Account, purposes: tuple[KeyPurpose, ...]
) -> None:
    """Add wraps of the case's keys for `account` to the session (the caller commits)."""
    db.add_all(wraps_for_account(case_id, keys, account, purposes))


def _unwrap(wraps: dict[str, bytes], case_id: str, purpose: KeyPurpose, private: bytes):
    wrapped = wraps.get(purpose)
    if wrapped is None:
        return None
    try:
        return crypto.unwrap_key(private, wrapped, wrap_context(case_id, purpose))
    except crypto.CryptoError:
        raise KeyUnavailable() from None


def _open(db: Session, case: Case, recipient: str, private_key: bytes) -> CaseKeys:
    rows = db.execute(
        select(CaseKeyWrap.purpose, CaseKeyWrap.wrapped).where(
            CaseKeyWrap.case_id == case.id, CaseKeyWrap.recipient == recipient
        )
    ).all()
    wraps = {purpose: wrapped for purpose, wrapped in rows}
    case_key = _unwrap(wraps, case.id, KeyPurpose.CASE, private_key)
    if case_key is None:
        raise KeyUnavailable()
    return CaseKeys(
        case=case_key,
        staff=_unwrap(wraps, case.id, KeyPurpose.STAFF, private_key),
        identity=_unwrap(wraps, case.id, KeyPurpose.IDENTITY, private_key),
    )


def open_case_keys_for_account(
    db: Session, case: Case, account: Account, private_key: bytes
) -> CaseKeys:
    """Unwrap the keys `account` holds for `case`; KeyUnavailable if it holds none."""
    return _open(db, case, f"account:{account.id}", private_key)


def open_case_keys_for_reporter(db: Session, case: Case, private_key: bytes) -> CaseKeys:
    return _open(db, case, "reporter", private_key)


def open_case_keys_with_recovery(db: Session, case: Case, private_key: bytes) -> CaseKeys:
    return _open(db, case, f"recovery:{case.body_id}", private_key)


def has_wrap(db: Session, case_id: str, account_id: int) -> bool:
    return (
        db.execute(
            select(CaseKeyWrap.id).where(
                CaseKeyWrap.case_id == case_id,
                CaseKeyWrap.account_id == account_id,
                CaseKeyWrap.purpose == KeyPurpose.CASE,
            )
        ).first()
        is not None
    )
