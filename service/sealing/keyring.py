"""Case keys and their wraps: who can open what, enforced by the keys themselves.

A case has up to three random keys (see models.KeyPurpose). Each is wrapped to the X25519 public
key of every recipient entitled to it. Opening a case means finding one's own wrap and unwrapping
it with one's private key; without a wrap there is nothing to open, whatever a check says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, ScalarSelect, delete, select, update
from sqlalchemy.orm import Session

import crypto
from service.models import Account, Body, Case, CaseKeyWrap, KeyPurpose
from service.platform.errors import KeyUnavailable


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


def wrap_case_key(public_key: bytes, key: bytes, case_id: str, purpose: str) -> bytes:
    """The case's `purpose` key encrypted for the holder of `public_key`'s private key alone."""
    return crypto.wrap_key(public_key, key, wrap_context(case_id, purpose))


# A wrap's copy of the case status: the value itself, or a subquery for it, or none.
_ListedStatus = str | ScalarSelect[Any] | None


def _wrap(
    case_id: str,
    purpose: KeyPurpose,
    key: bytes,
    public_key: bytes,
    *,
    recipient: str,
    account_id: int | None = None,
    body_id: int | None = None,
    case_status: _ListedStatus = None,
) -> CaseKeyWrap:
    return CaseKeyWrap(
        case_id=case_id,
        purpose=purpose,
        recipient=recipient,
        account_id=account_id,
        body_id=body_id,
        wrapped=wrap_case_key(public_key, key, case_id, purpose),
        case_status=case_status,
    )


def wraps_for_account(
    case_id: str,
    keys: CaseKeys,
    account: Account,
    purposes: tuple[KeyPurpose, ...],
    *,
    case: Case | None = None,
) -> list[CaseKeyWrap]:
    """The case's keys encrypted for a handler or chair: each purpose listed that `keys` holds.

    The CASE wrap of a handler of the case's own body carries the case's status (the board's
    per-status counts read it): from `case` when given, else from the database as it is saved.
    """
    return [
        _wrap(
            case_id,
            purpose,
            key,
            account.public_key,
            recipient=f"account:{account.id}",
            account_id=account.id,
            case_status=_listed_status(case_id, account, case)
            if purpose == KeyPurpose.CASE
            else None,
        )
        for purpose in purposes
        if (key := keys.get(purpose)) is not None
    ]


def _listed_status(case_id: str, account: Account, case: Case | None) -> _ListedStatus:
    """The status under which the board lists the case for `account`: only in its own body."""
    if case is not None:
        return case.status if case.body_id == account.body_id else None
    return (
        select(Case.status)
        .where(Case.id == case_id, Case.body_id == account.body_id)
        .scalar_subquery()
    )


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
    db: Session,
    case_id: str,
    keys: CaseKeys,
    account: Account,
    purposes: tuple[KeyPurpose, ...],
    *,
    case: Case | None = None,
) -> None:
    """Add wraps of the case's keys for `account` to the session (in the caller's transaction)."""
    db.add_all(wraps_for_account(case_id, keys, account, purposes, case=case))


def remove_account_wraps(db: Session, case_id: str, *, keep_account_id: int | None = None) -> None:
    """Take every handler's keys to the case away (but `keep_account_id`'s), and every
    recovery key's: what a transfer does before wrapping for the receiving body."""
    query = delete(CaseKeyWrap).where(
        CaseKeyWrap.case_id == case_id, CaseKeyWrap.recipient != "reporter"
    )
    if keep_account_id is not None:
        query = query.where(
            (CaseKeyWrap.account_id.is_(None)) | (CaseKeyWrap.account_id != keep_account_id)
        )
    db.execute(query, execution_options={"synchronize_session": False})


def remove_wraps_of(db: Session, case_id: str, account_id: int) -> int:
    """Take one person's keys to the case away; returns how many wraps there were."""
    result = db.execute(
        delete(CaseKeyWrap).where(
            CaseKeyWrap.case_id == case_id, CaseKeyWrap.account_id == account_id
        ),
        execution_options={"synchronize_session": False},
    )
    return cast("CursorResult[Any]", result).rowcount or 0


def unlist_for(db: Session, case_id: str, account_id: int) -> None:
    """Keep `account_id`'s wraps but list the case no more among their body's cases."""
    db.execute(
        update(CaseKeyWrap)
        .where(CaseKeyWrap.case_id == case_id, CaseKeyWrap.account_id == account_id)
        .values(case_status=None),
        execution_options={"synchronize_session": False},
    )


def held_purposes(db: Session, case_id: str, account_id: int) -> set[str]:
    """Which of the case's keys `account_id` holds a wrap of."""
    return set(
        db.scalars(
            select(CaseKeyWrap.purpose).where(
                CaseKeyWrap.case_id == case_id, CaseKeyWrap.account_id == account_id
            )
        )
    )


def unwrap_case_key(private_key: bytes, wrapped: bytes, case_id: str, purpose: str) -> bytes:
    """One wrap of the case's `purpose` key, opened; SealingError if `private_key` is not its
    recipient's or the wrap belongs to another case or purpose."""
    return crypto.unwrap_key(private_key, wrapped, wrap_context(case_id, purpose))


def _unwrap(
    wraps: dict[str, bytes], case_id: str, purpose: KeyPurpose, private: bytes
) -> bytes | None:
    wrapped = wraps.get(purpose)
    if wrapped is None:
        return None
    try:
        return unwrap_case_key(private, wrapped, case_id, purpose)
    except crypto.CryptoError:
        raise KeyUnavailable() from None


def _open(db: Session, case: Case, recipient: str, private_key: bytes) -> CaseKeys:
    rows = db.execute(
        select(CaseKeyWrap.purpose, CaseKeyWrap.wrapped).where(
            CaseKeyWrap.case_id == case.id, CaseKeyWrap.recipient == recipient
        )
    ).all()
    wraps = dict(rows)
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
