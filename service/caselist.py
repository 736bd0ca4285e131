"""The board's list of cases: filtered, sorted, paged and counted over what a handler can see.

What a handler can see is exactly the cases of their body whose key they hold (a CASE wrap). A
case whose reporter excluded them, or from which they recused themselves, is in no row and in
no count: the rows are filtered on the wrap, and the counts per status are read from the wraps
themselves (`CaseKeyWrap.case_status`, kept in step by `workflow.set_status`).

Each order is read from one index range (see the indexes on `cases`): by deadline — the date
the case waits on now, nulls last, then the oldest received first — or by received day, newest
first. The first page of 50 costs a few index probes whatever the number of cases; deep pages
cost more (OFFSET walks the skipped rows). benchmarks/bench_case_list.py measures it.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from dataclasses import dataclass, field, replace

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from .models import Account, Case, CaseKeyWrap, CaseStatus, KeyPurpose, Track
from .rules import is_due_soon, is_overdue

PER_PAGE = 50


class Sort(enum.StrEnum):
    DEADLINE = "deadline"
    RECEIVED = "received"


@dataclass(frozen=True)
class CaseFilter:
    status: CaseStatus | None = None
    kind: str | None = None
    overdue: bool = False
    mine: bool = False  # assigned to me
    sort: Sort = Sort.DEADLINE
    page: int = 1

    @property
    def narrows_beyond_status(self) -> bool:
        return bool(self.kind or self.overdue or self.mine)


@dataclass(frozen=True)
class CaseRow:
    id: str
    reference: str
    kind: str
    status: str
    track: str
    priority: str
    received_on: dt.date
    next_due: dt.date | None
    assignee_name: str | None
    overdue: bool = False
    due_soon: bool = False

    @property
    def is_information_track(self) -> bool:
        return self.track == Track.INFORMATION


@dataclass(frozen=True)
class CaseList:
    rows: list[CaseRow]
    counts: dict[str, int]  # per status, over every case the handler can see
    page: int = 1
    has_next: bool = False
    pages: int | None = None  # known unless kind, overdue or "mine" narrow the list
    kept: list[CaseRow] = field(default_factory=list)  # transferred away, read access kept

    @property
    def total(self) -> int:
        return sum(self.counts.values())


_COLUMNS = (
    Case.id,
    Case.reference,
    Case.kind,
    Case.status,
    Case.track,
    Case.priority,
    Case.received_on,
    Case.next_due,
    Account.display_name,
)


def _rows(db: Session, query, today: dt.date) -> list[CaseRow]:
    rows = []
    for values in db.execute(query):
        row = CaseRow(*values)
        overdue = is_overdue(row, today)
        rows.append(replace(row, overdue=overdue, due_soon=not overdue and is_due_soon(row, today)))
    return rows


def status_counts(db: Session, account: Account) -> dict[str, int]:
    """How many cases the account can see in each status (one index range of its wraps)."""
    return dict(
        db.execute(
            select(CaseKeyWrap.case_status, func.count())
            .where(
                CaseKeyWrap.account_id == account.id,
                CaseKeyWrap.purpose == KeyPurpose.CASE,
                CaseKeyWrap.case_status.is_not(None),
            )
            .group_by(CaseKeyWrap.case_status)
        ).all()
    )


def list_cases(db: Session, account: Account, filters: CaseFilter, today: dt.date) -> CaseList:
    """One page of the cases the account can see, with the counts per status."""
    if not account.is_handler or account.body_id is None:
        return CaseList([], {})
    page = max(filters.page, 1)
    holds_key = exists().where(
        CaseKeyWrap.case_id == Case.id,
        CaseKeyWrap.account_id == account.id,
        CaseKeyWrap.purpose == KeyPurpose.CASE,
    )
    query = (
        select(*_COLUMNS)
        .outerjoin(Account, Account.id == Case.assignee_id)
        .where(Case.body_id == account.body_id, holds_key)
    )
    if filters.status:
        query = query.where(Case.status == filters.status)
    if filters.kind:
        query = query.where(Case.kind == filters.kind)
    if filters.overdue:
        query = query.where(Case.next_due < today)
    if filters.mine:
        query = query.where(Case.assignee_id == account.id)
    if filters.sort == Sort.RECEIVED:
        query = query.order_by(Case.received_on.desc(), Case.reference.desc())
    else:
        query = query.order_by(
            Case.next_due.asc().nulls_last(), Case.received_on.asc(), Case.reference.asc()
        )
    query = query.offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)
    rows = _rows(db, query, today)
    counts = status_counts(db, account)
    pages = None
    if not filters.narrows_beyond_status:
        total = counts.get(filters.status, 0) if filters.status else sum(counts.values())
        pages = max(1, math.ceil(total / PER_PAGE))
    kept = _kept(db, account, today) if page == 1 else []
    return CaseList(rows[:PER_PAGE], counts, page, len(rows) > PER_PAGE, pages, kept)


def _kept(db: Session, account: Account, today: dt.date) -> list[CaseRow]:
    """Cases the account transferred to another body and kept read access to."""
    query = (
        select(*_COLUMNS)
        .join(CaseKeyWrap, CaseKeyWrap.case_id == Case.id)
        .outerjoin(Account, Account.id == Case.assignee_id)
        .where(
            CaseKeyWrap.account_id == account.id,
            CaseKeyWrap.purpose == KeyPurpose.CASE,
            CaseKeyWrap.case_status.is_(None),
        )
        .order_by(Case.received_on.desc(), Case.reference.desc())
    )
    return _rows(db, query, today)
