"""The board's case list and the audit views: only what the handler can see, counted right."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from service.cases.caselist import PER_PAGE, CaseFilter, Sort, list_cases, status_counts
from service.cases.casework import handler_case_view, open_case_with_receipt
from service.cases.custody import recuse_case, transfer_case
from service.cases.intake import Submission, submit_case
from service.cases.lifecycle import (
    accept_case,
    acknowledge_case,
    assign_case,
    decline_case,
    resolve_case,
    set_status,
)
from service.cases.timeline import case_timeline, organisation_log
from service.cases.voice import flag_retaliation
from service.models import Account, Case, CaseKeyWrap, CaseKind, CaseStatus, KeyPurpose
from service.platform.errors import AccessDenied

NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 27)


def file(db, world, kind=CaseKind.PROBLEM, now=NOW, **fields):
    submission = Submission(kind=kind, title="t", text="x", **fields)
    filed = submit_case(db, world.organisation, submission, now=now)
    db.commit()  # as the filing's request would
    return filed


def refs(listing):
    return [row.reference for row in listing.rows]


def test_an_excluded_case_is_in_no_row_and_no_count(db, world):
    handler, chair = world["cd_handler"], world["cd_chair"]
    file(db, world)
    hidden = file(db, world, excluded_account_ids=frozenset({handler.account.id})).case
    decline_case(db, chair.principal(), hidden.id, reason="Không", now=NOW)
    for filters in (
        CaseFilter(),
        CaseFilter(status=CaseStatus.NOT_ACCEPTED),
        CaseFilter(sort=Sort.RECEIVED),
    ):
        listing = list_cases(db, handler.account, filters, TODAY)
        assert hidden.reference not in refs(listing)
        assert listing.counts == {CaseStatus.NEW: 1}  # no "not accepted: 1" to give it away
    chairs = list_cases(db, chair.account, CaseFilter(), TODAY)
    assert chairs.counts == {CaseStatus.NEW: 1, CaseStatus.NOT_ACCEPTED: 1}


def test_counts_follow_every_status_change_and_key_change(db, world):
    handler, chair = world["cd_handler"], world["cd_chair"]
    cases = [file(db, world).case for _ in range(3)]
    acknowledge_case(db, handler.account, cases[0].id, now=NOW)
    accept_case(db, handler.account, cases[0].id, now=NOW)
    resolve_case(db, handler.principal(), cases[0].id, summary="xong", now=NOW)
    acknowledge_case(db, handler.account, cases[1].id, now=NOW)
    assert status_counts(db, handler.account) == {"resolved": 1, "acknowledged": 1, "new": 1}
    recuse_case(db, handler.account, cases[2].id, now=NOW)
    assert status_counts(db, handler.account) == {"resolved": 1, "acknowledged": 1}
    transfer_case(
        db,
        chair.principal(),
        cases[1].id,
        to_body_id=world.ttnd.id,
        keep_access=True,
        reason="x",
    )
    assert status_counts(db, chair.account) == {"resolved": 1, "new": 1}
    assert status_counts(db, world["ttnd_handler"].account) == {"transferred": 1}
    # The invariant behind the counts: listed wraps carry their case's status.
    for wrap, status, body_id, account_body in db.execute(
        select(CaseKeyWrap, Case.status, Case.body_id, Account.body_id)
        .join(Case, Case.id == CaseKeyWrap.case_id)
        .join(Account, Account.id == CaseKeyWrap.account_id)
        .where(CaseKeyWrap.purpose == KeyPurpose.CASE)
    ):
        in_body = account_body == body_id
        assert wrap.case_status == (status if in_body else None), (wrap.recipient, status)


def test_a_case_kept_after_transfer_is_listed_apart_and_not_counted(db, world):
    chair = world["cd_chair"]
    case = file(db, world).case
    transfer_case(
        db,
        chair.principal(),
        case.id,
        to_body_id=world.ttnd.id,
        keep_access=True,
        reason="x",
    )
    listing = list_cases(db, chair.account, CaseFilter(), TODAY)
    assert listing.rows == [] and listing.counts == {}
    assert [row.reference for row in listing.kept] == [case.reference]


def test_filters_by_status_kind_overdue_and_assignee(db, world):
    handler, chair = world["cd_handler"], world["cd_chair"]
    old = file(db, world, now=NOW - dt.timedelta(days=30)).case  # acknowledge_due has passed
    suggestion = file(db, world, kind=CaseKind.SUGGESTION).case
    mine = file(db, world).case
    assign_case(db, chair.account, mine.id, assignee_id=handler.account.id, now=NOW)
    acknowledge_case(db, handler.account, suggestion.id, now=NOW)

    def only(**filters):
        return set(refs(list_cases(db, handler.account, CaseFilter(**filters), TODAY)))

    assert only() == {old.reference, suggestion.reference, mine.reference}
    assert only(status=CaseStatus.ACKNOWLEDGED) == {suggestion.reference}
    assert only(kind=CaseKind.SUGGESTION) == {suggestion.reference}
    assert only(overdue=True) == {old.reference}
    assert only(mine=True) == {mine.reference}
    assert only(status=CaseStatus.CLOSED) == set()


def test_the_deadline_order_puts_the_most_urgent_first_and_undated_last(db, world):
    handler, chair = world["cd_handler"], world["cd_chair"]
    early = file(db, world, now=NOW - dt.timedelta(days=20)).case
    late = file(db, world).case
    decided = file(db, world, now=NOW - dt.timedelta(days=40)).case
    decline_case(db, chair.principal(), decided.id, reason="Không", now=NOW)
    listing = list_cases(db, handler.account, CaseFilter(), TODAY)
    assert refs(listing) == [early.reference, late.reference, decided.reference]
    received = list_cases(db, handler.account, CaseFilter(sort=Sort.RECEIVED), TODAY)
    assert refs(received) == [late.reference, early.reference, decided.reference]
    flags = {row.reference: (row.overdue, row.due_soon) for row in listing.rows}
    assert flags == {
        early.reference: (True, False),
        late.reference: (False, False),
        decided.reference: (False, False),
    }


def test_due_within_three_days_is_flagged(db, world):
    handler = world["cd_handler"]
    case = file(db, world).case
    listing = list_cases(db, handler.account, CaseFilter(), case.next_due - dt.timedelta(days=3))
    assert [(row.overdue, row.due_soon) for row in listing.rows] == [(False, True)]
    listing = list_cases(db, handler.account, CaseFilter(), case.next_due - dt.timedelta(days=4))
    assert [(row.overdue, row.due_soon) for row in listing.rows] == [(False, False)]


def test_pages_of_fifty(db, world):
    handler = world["cd_handler"]
    template = file(db, world).case
    # Copies of one filed case (same ciphertext, new ids): enough rows for two pages, fast.
    for n in range(PER_PAGE + 4):
        copy = Case(
            **{
                column.key: getattr(template, column.key)
                for column in Case.__table__.columns
                if column.key not in ("id", "reference", "lookup_id")
            },
            id=f"{n:032x}",
            reference=f"CD-2026-9{n:03d}",
            lookup_id=n.to_bytes(32, "big"),
        )
        db.add(copy)
        db.flush()
        db.add(
            CaseKeyWrap(
                case_id=copy.id,
                purpose=KeyPurpose.CASE,
                recipient=f"account:{handler.account.id}",
                account_id=handler.account.id,
                wrapped=b"-",
                case_status=copy.status,
            )
        )
    db.commit()
    first = list_cases(db, handler.account, CaseFilter(), TODAY)
    second = list_cases(db, handler.account, CaseFilter(page=2), TODAY)
    assert (len(first.rows), first.has_next, first.pages) == (PER_PAGE, True, 2)
    assert (len(second.rows), second.has_next) == (5, False)
    assert not set(refs(first)) & set(refs(second))
    narrowed = list_cases(db, handler.account, CaseFilter(kind=CaseKind.PROBLEM), TODAY)
    assert narrowed.pages is None and narrowed.has_next  # no count for kind: next/previous


def test_set_status_moves_the_counted_copy_too(db, world):
    handler = world["cd_handler"]
    case = file(db, world).case
    set_status(db, case, CaseStatus.CLOSED)
    db.commit()
    assert status_counts(db, handler.account) == {"closed": 1}


# --- audit views -----------------------------------------------------------------------------


def test_the_timeline_names_staff_and_only_reporter_with_a_day(db, world):
    handler, chair = world["cd_handler"], world["cd_chair"]
    filed = file(db, world)
    for _ in range(3):
        handler_case_view(db, handler.principal(), filed.case.id)
    assign_case(db, chair.account, filed.case.id, assignee_id=handler.account.id, now=NOW)
    flag_retaliation(db, open_case_with_receipt(db, world.organisation, filed.receipt), "", NOW)
    timeline = case_timeline(db, chair.account, filed.case.id)
    summary = [(e.action, e.actor_name, e.repeated) for e in timeline]
    assert summary == [
        ("case.submitted", None, 1),
        ("case.viewed", handler.account.display_name, 3),
        ("case.assigned", chair.account.display_name, 1),
        ("case.retaliation_flagged", None, 1),
    ]
    assert timeline[2].details["assignee"] == handler.account.display_name
    reporter = [e for e in timeline if e.actor_role == "reporter"]
    assert reporter and all(e.occurred_at is None for e in reporter)


def test_the_organisation_log_names_only_cases_the_viewer_holds(db, world):
    hidden = file(db, world, excluded_account_ids=frozenset({world["cd_chair"].account.id}))
    seen = file(db, world)
    log = organisation_log(db, world["cd_chair"].account, action="case.submitted")
    by_reference = {e.case_reference for e in log.entries}
    assert seen.case.reference in by_reference and hidden.case.reference not in by_reference
    assert all(hidden.case.reference not in str(e.details) for e in log.entries)
    assert all(e.case_id != hidden.case.id for e in log.entries)
    assert [e.action for e in log.entries] == ["case.submitted", "case.submitted"]


def test_the_organisation_log_is_paged_newest_first_and_for_chairs(db, world):
    chair = world["cd_chair"]
    for _ in range(3):
        file(db, world)
    first = organisation_log(db, chair.account, page=1, per_page=4)
    second = organisation_log(db, chair.account, page=2, per_page=4)
    seqs = [e.seq for e in first.entries + second.entries]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 8 and first.has_next
    with pytest.raises(AccessDenied):
        organisation_log(db, world["cd_handler"].account)


def test_a_page_past_the_last_shows_the_last_page(db, world):
    """Issue 11: `?page=99` said "Page 99 of 2" over an empty list."""
    handler = world["cd_handler"]
    for _ in range(3):
        file(db, world)
    listing = list_cases(db, handler.account, CaseFilter(page=99), TODAY)
    assert (listing.page, listing.pages) == (1, 1)
    assert len(listing.rows) == 3
