"""The board's list of cases: filtered, sorted, paged and counted over what a handler can see.

What a handler can see is exactly the cases of their body whose key they hold (a CASE wrap). A
case whose reporter excluded them, or from which they recused themselves, is in no row and in
no count: the rows are filtered on the wrap, and the counts per status are read from the wraps
themselves (`CaseKeyWrap.case_status`, kept in step by `lifecycle.move`).

Each order is read from one index range (see the indexes on `cases`): by deadline — the date
the case waits on now, nulls last, then the oldest received first — or by received day, newest
first. The first page of 50 costs a few index probes whatever the number of cases; deep pages
cost more (OFFSET walks the skipped rows). benchmarks/bench_case_list.py measures it.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import math
from dataclasses import dataclass, field

from sqlalchemy import BindParameter, bindparam, exists, func, select
from sqlalchemy.orm import Session

from service.models import Account, Case, CaseKeyWrap, CaseStatus, KeyPurpose, Track
from service.rules.policy import due_flags

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
    due_soon: bool = False  # within three days, not yet overdue

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


def _rows(db: Session, query, params: dict, today: dt.date) -> list[CaseRow]:
    # Core execution on the session's connection: plain tuples, no ORM bookkeeping per row.
    result = db.connection().execute(query, params)
    # mypy cannot count the columns of a row of an untyped statement, so not its fit to CaseRow.
    return [CaseRow(*values, *due_flags(values[7], today)) for values in result]  # type: ignore[call-arg]


# The statements are built once per shape and reused with new parameters: building and keying
# one costs about as much as running it on the first page.
_ACCOUNT: BindParameter[int] = bindparam("account_id")
_COUNTS = (
    select(CaseKeyWrap.case_status, func.count())
    .where(
        CaseKeyWrap.account_id == _ACCOUNT,
        CaseKeyWrap.purpose == KeyPurpose.CASE,
        CaseKeyWrap.case_status.is_not(None),
    )
    .group_by(CaseKeyWrap.case_status)
)
# Kept after a transfer: first the ids, from the wraps alone (an index range that is nearly
# always empty), then those cases. As one join, PostgreSQL's planner, which sees that most wraps
# have no case_status (recovery, reporter, STAFF...), expects thousands of rows and hashes
# the whole cases table (50 ms for 100 000 cases) to find none.
_KEPT_IDS = select(CaseKeyWrap.case_id).where(
    CaseKeyWrap.account_id == _ACCOUNT,
    CaseKeyWrap.purpose == KeyPurpose.CASE,
    CaseKeyWrap.case_status.is_(None),
)
_KEPT = (
    select(*_COLUMNS)
    .outerjoin(Account, Account.id == Case.assignee_id)
    .where(Case.id.in_(bindparam("ids", expanding=True)))
    .order_by(Case.received_on.desc(), Case.reference.desc())
)


@functools.cache
def _page_query(status: bool, kind: bool, overdue: bool, mine: bool, sort: Sort):
    """The rows of one page, for one combination of filters (parameters bound at run time)."""
    holds_key = exists().where(
        CaseKeyWrap.case_id == Case.id,
        CaseKeyWrap.account_id == _ACCOUNT,
        CaseKeyWrap.purpose == KeyPurpose.CASE,
    )
    query = (
        select(*_COLUMNS)
        .outerjoin(Account, Account.id == Case.assignee_id)
        .where(Case.body_id == bindparam("body_id"), holds_key)
    )
    if status:
        query = query.where(Case.status == bindparam("status"))
    if kind:
        query = query.where(Case.kind == bindparam("kind"))
    if overdue:
        query = query.where(Case.next_due < bindparam("today"))
    if mine:
        query = query.where(Case.assignee_id == _ACCOUNT)
    if sort == Sort.RECEIVED:
        query = query.order_by(Case.received_on.desc(), Case.reference.desc())
    else:
        query = query.order_by(
            Case.next_due.asc().nulls_last(), Case.received_on.asc(), Case.reference.asc()
        )
    return query.offset(bindparam("skip")).limit(bindparam("take"))


def status_counts(db: Session, account: Account) -> dict[str, int]:
    """How many cases the account can see in each status (one index range of its wraps)."""
    rows = db.connection().execute(_COUNTS, {"account_id": account.id}).all()
    return {status: count for status, count in rows if status is not None}  # None: excluded


def list_cases(db: Session, account: Account, filters: CaseFilter, today: dt.date) -> CaseList:
    """One page of the cases the account can see, with the counts per status."""
    if not account.is_handler or account.body_id is None:
        return CaseList([], {})
    counts = status_counts(db, account)
    pages = None
    if not filters.narrows_beyond_status:
        total = counts.get(filters.status, 0) if filters.status else sum(counts.values())
        pages = max(1, math.ceil(total / PER_PAGE))
    page = max(filters.page, 1)
    if pages is not None:  # a page past the last (an old link, a typed number) shows the last
        page = min(page, pages)
    query = _page_query(
        bool(filters.status), bool(filters.kind), filters.overdue, filters.mine, filters.sort
    )
    params = {
        "account_id": account.id,
        "body_id": account.body_id,
        "status": filters.status,
        "kind": filters.kind,
        "today": today,
        "skip": (page - 1) * PER_PAGE,
        "take": PER_PAGE + 1,
    }
    rows = _rows(db, query, params, today)
    kept = _kept(db, account, today) if page == 1 else []
    return CaseList(rows[:PER_PAGE], counts, page, len(rows) > PER_PAGE, pages, kept)


def _kept(db: Session, account: Account, today: dt.date) -> list[CaseRow]:
    """Cases the account transferred to another body and kept read access to."""
    ids = list(db.connection().execute(_KEPT_IDS, {"account_id": account.id}).scalars())
    return _rows(db, _KEPT, {"ids": ids}, today) if ids else []
