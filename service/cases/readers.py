"""Who may read a case, computed in one place.

Two questions, asked by intake, custody, handover, casework and the case page alike:

- `body_readers`: the accounts of a body that may be given a case's keys — its active handlers
  and chairs, but never one the reporter excluded (at filing, on transfer, on a colleague's
  grant of access);
- `case_readers`: the accounts that read a case now — active members of the case's body who
  hold its CASE key (not one who kept read access after transferring it elsewhere).

This module imports only the models, so every module of cases/ may import it.
"""

from __future__ import annotations

from collections.abc import Set

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import Account, Case, CaseKeyWrap, KeyPurpose, Role

HANDLER_ROLES = (Role.HANDLER, Role.CHAIR)


def body_readers(db: Session, body_id: int, excluded: Set[int] = frozenset()) -> list[Account]:
    """The active handlers and chairs of a body, minus the accounts in `excluded`."""
    accounts = db.scalars(
        select(Account)
        .where(
            Account.body_id == body_id,
            Account.active.is_(True),
            Account.role.in_(HANDLER_ROLES),
        )
        .order_by(Account.display_name, Account.id)
    )
    return [account for account in accounts if account.id not in excluded]


def case_readers(db: Session, case: Case, *, chairs_only: bool = False) -> list[Account]:
    """The active accounts of the case's body holding its CASE key: who may be assigned it,
    and who is told that something happened to it."""
    query = (
        select(Account)
        .join(CaseKeyWrap, CaseKeyWrap.account_id == Account.id)
        .where(
            CaseKeyWrap.case_id == case.id,
            CaseKeyWrap.purpose == KeyPurpose.CASE,
            Account.active.is_(True),
            Account.body_id == case.body_id,
        )
        .order_by(Account.display_name, Account.id)
    )
    if chairs_only:
        query = query.where(Account.role == Role.CHAIR)
    return list(db.scalars(query))
