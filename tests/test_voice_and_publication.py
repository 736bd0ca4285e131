"""The reporter's voice (rating, reopening, retaliation) and the publication of results."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from service.cases.casework import open_case_with_receipt, reporter_case_view
from service.cases.handling import case_page
from service.cases.intake import Submission, submit_case
from service.cases.lifecycle import (
    RoleNotPermitted,
    TransitionRefused,
    accept_case,
    acknowledge_case,
    close_case,
    decline_case,
    resolve_case,
)
from service.cases.publication import (
    DraftChanged,
    NotYetPublishable,
    StillRequired,
    approve_publication,
    draft_publication,
    published_results,
    withdraw_publication,
)
from service.cases.voice import (
    ReopenWindowClosed,
    ask_to_reopen,
    flag_retaliation,
    rate_outcome,
    voice_for,
)
from service.models import (
    AuditEvent,
    Case,
    CaseKind,
    CaseStatus,
    OutboxMessage,
    Priority,
    Publication,
    PublicationStatus,
)
from service.platform.clock import start_of_local_day

NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
WINDOW = 30 * DAY  # REOPEN_WINDOW_DAYS' default
PUBLISHED_DAYS = 20  # PUBLICATION_DAYS' default


@pytest.fixture
def filed(db, world):
    submission = Submission(kind=CaseKind.PROBLEM, title="t", text="x")
    filed = submit_case(db, world.organisation, submission, now=NOW)
    db.commit()  # as the filing's request would
    return filed


@pytest.fixture
def access(db, world, filed):
    return open_case_with_receipt(db, world.organisation, filed.receipt)


def resolve(db, world, case, when=NOW):
    handler = world["cd_handler"]
    acknowledge_case(db, handler.account, case.id, now=when)
    accept_case(db, handler.account, case.id, now=when)
    resolve_case(db, handler.principal(), case.id, summary="Đã sửa", now=when)
    db.commit()  # as those requests would


def events(db, case_id, action):
    return db.scalars(
        select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.action == action)
    ).all()


# --- rating ----------------------------------------------------------------------------------


def test_the_outcome_can_be_rated_only_once_it_is_decided_and_only_once(db, world, filed, access):
    with pytest.raises(TransitionRefused):
        rate_outcome(db, access, 4, now=NOW)
    db.rollback()
    resolve(db, world, filed.case)
    assert voice_for(filed.case, NOW.date(), reopen_window=WINDOW).can_rate
    assert rate_outcome(db, access, 4, now=NOW).changed
    assert not rate_outcome(db, access, 1, now=NOW).changed  # a second tab
    assert (filed.case.rating, filed.case.rated_on) == (4, dt.date(2026, 11, 27))
    (event,) = events(db, filed.case.id, "case.rated")
    assert event.actor_role == "reporter" and event.occurred_at is None


@pytest.mark.parametrize("rating", [0, 6, -1])
def test_a_rating_outside_one_to_five_is_refused(db, world, filed, access, rating):
    from service.platform.errors import InvalidSubmission

    resolve(db, world, filed.case)
    with pytest.raises(InvalidSubmission):
        rate_outcome(db, access, rating, now=NOW)


# --- reopening -------------------------------------------------------------------------------


@pytest.mark.parametrize("decision", ["resolve", "decline", "close"])
def test_the_reporter_reopens_within_the_window(db, world, filed, access, decision):
    case = filed.case
    if decision == "decline":
        chair = world["cd_chair"]
        decline_case(db, chair.principal(), case.id, reason="Không", now=NOW)
    else:
        resolve(db, world, case)
        if decision == "close":
            close_case(db, world["cd_chair"].account, case.id, now=NOW)
    rate_outcome(db, access, 2, now=NOW)
    until = NOW + 30 * DAY
    outcome = ask_to_reopen(db, access, "Chưa được sửa", now=until, reopen_window=WINDOW)
    assert outcome.changed and case.status == CaseStatus.IN_PROGRESS
    assert case.reopen_count == 1 and case.rating is None  # the next outcome is rated afresh
    again = ask_to_reopen(db, access, "", now=until, reopen_window=WINDOW)
    assert not again.changed  # a second tab
    (event,) = events(db, case.id, "case.reopen")
    assert (event.actor_role, event.actor_id, event.occurred_at) == ("reporter", None, None)
    view = reporter_case_view(db, access)
    assert view.messages[-1].text == "Chưa được sửa" and view.messages[-1].sent_at is None
    mails = db.scalars(select(OutboxMessage).where(OutboxMessage.subject.like("%mở lại%"))).all()
    assert {m.recipient for m in mails} == {world["cd_chair"].email, world["cd_handler"].email}
    assert {m.created_at for m in mails} == {start_of_local_day(until)}


def test_after_the_window_the_reporter_can_no_longer_reopen(db, world, filed, access):
    resolve(db, world, filed.case)
    with pytest.raises(ReopenWindowClosed) as closed:
        ask_to_reopen(db, access, "", now=NOW + 11 * DAY, reopen_window=10 * DAY)
    assert closed.value.status_code == 409
    db.rollback()
    assert filed.case.status == CaseStatus.RESOLVED
    assert not voice_for(filed.case, (NOW + 11 * DAY).date(), reopen_window=10 * DAY).can_reopen


def test_the_reopen_window_is_the_one_passed_in_with_no_application_at_all():
    # No app, no app context: the domain reads its window from its argument only.
    case = Case(status=CaseStatus.RESOLVED, decided_on=dt.date(2026, 1, 1), rating=None)
    voice = voice_for(case, dt.date(2026, 1, 8), reopen_window=7 * DAY)
    assert voice.reopen_until == dt.date(2026, 1, 8) and voice.can_reopen and voice.can_rate
    assert not voice_for(case, dt.date(2026, 1, 9), reopen_window=7 * DAY).can_reopen
    assert voice_for(case, dt.date(2026, 1, 9), reopen_window=WINDOW).can_reopen


def test_an_open_case_cannot_be_reopened(db, world, filed, access):
    with pytest.raises(TransitionRefused):
        ask_to_reopen(db, access, "", now=NOW, reopen_window=WINDOW)


# --- retaliation -----------------------------------------------------------------------------


def test_retaliation_raises_the_priority_and_tells_the_chair_only(db, world, filed, access):
    outcome = flag_retaliation(db, access, "Bị điều chuyển công tác", now=NOW)
    case = filed.case
    assert outcome.changed and case.priority == Priority.HIGH
    assert case.retaliation_flagged_on == dt.date(2026, 11, 27)
    mails = db.scalars(select(OutboxMessage).where(OutboxMessage.subject.like("%trù dập%"))).all()
    assert [m.recipient for m in mails] == [world["cd_chair"].email]
    assert mails[0].created_at == start_of_local_day(NOW)  # the day, not the moment
    assert "Bị điều chuyển" not in mails[0].text_body + mails[0].html_body
    (event,) = events(db, case.id, "case.retaliation_flagged")
    assert event.actor_role == "reporter" and event.occurred_at is None
    assert not flag_retaliation(db, access, "lần nữa", now=NOW).changed  # the same day
    assert [m.text for m in reporter_case_view(db, access).messages] == ["Bị điều chuyển công tác"]


def test_retaliation_reaches_the_handlers_when_every_chair_is_excluded(db, world):
    chair = world["cd_chair"].account.id
    submission = Submission(
        kind=CaseKind.PROBLEM, title="t", text="x", excluded_account_ids=frozenset({chair})
    )
    filed = submit_case(db, world.organisation, submission, now=NOW)
    access = open_case_with_receipt(db, world.organisation, filed.receipt)
    flag_retaliation(db, access, "", now=NOW)
    mails = db.scalars(select(OutboxMessage).where(OutboxMessage.subject.like("%trù dập%"))).all()
    assert [m.recipient for m in mails] == [world["cd_handler"].email]


# --- publication -----------------------------------------------------------------------------


def test_a_summary_is_drafted_sealed_and_public_only_once_approved(db, world, filed, app):
    handler, chair = world["cd_handler"], world["cd_chair"]
    case = filed.case
    with pytest.raises(NotYetPublishable):
        draft_publication(db, handler.principal(), case.id, text="Sớm", now=NOW)
    db.rollback()
    resolve(db, world, case)
    draft = draft_publication(db, handler.principal(), case.id, text="Bản 1", now=NOW)
    db.commit()
    assert draft.public_text is None and b"B\xe1\xba\xa3n 1" not in draft.draft_ct
    assert published_results(db, world.organisation.id) == ([], False)

    with pytest.raises(RoleNotPermitted):
        approve_publication(
            db,
            handler.principal(),
            case.id,
            publication_id=draft.id,
            revision=1,
            publication_days=PUBLISHED_DAYS,
        )
    db.rollback()
    draft_publication(db, handler.principal(), case.id, text="Bản 2", now=NOW)
    db.commit()
    with pytest.raises(DraftChanged):  # the chair read version 1; version 2 is different
        approve_publication(
            db,
            chair.principal(),
            case.id,
            publication_id=draft.id,
            revision=1,
            publication_days=PUBLISHED_DAYS,
        )
    db.rollback()
    approved = approve_publication(
        db,
        chair.principal(),
        case.id,
        publication_id=draft.id,
        revision=2,
        now=NOW + DAY,
        publication_days=PUBLISHED_DAYS,
    )
    assert approved.changed
    assert not approve_publication(
        db,
        chair.principal(),
        case.id,
        publication_id=draft.id,
        revision=2,
        publication_days=PUBLISHED_DAYS,
    ).changed
    row = db.get(Publication, draft.id)
    assert (row.status, row.public_text) == (PublicationStatus.APPROVED, "Bản 2")
    assert row.public_until == dt.date(2026, 11, 28) + dt.timedelta(days=20)
    results, more = published_results(db, world.organisation.id)
    assert [(r.reference, r.text) for r in results] == [(case.reference, "Bản 2")] and not more
    actions = [
        e.action for e in db.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id))
    ]
    assert actions.count("publication.drafted") == 2 and "publication.approved" in actions
    assert all("Bản" not in e.details for e in db.scalars(select(AuditEvent)))


def test_a_publication_stays_up_for_the_legal_period_then_the_chair_may_withdraw_it(
    db, world, filed
):
    handler, chair = world["cd_handler"], world["cd_chair"]
    case = filed.case
    resolve(db, world, case)
    draft = draft_publication(db, handler.principal(), case.id, text="Kết quả", now=NOW)
    approve_publication(
        db,
        chair.principal(),
        case.id,
        publication_id=draft.id,
        revision=1,
        now=NOW,
        publication_days=PUBLISHED_DAYS,
    )
    db.commit()
    # The case page offers the button only once the law allows it (issue 11: it offered it at
    # once, and pressing it gave a 409).
    offered = [
        case_page(db, chair.principal(), case.id, now=NOW + days * DAY).publications[0].withdrawable
        for days in (0, 19, 20)
    ]
    assert offered == [False, False, True]
    with pytest.raises(StillRequired) as early:
        withdraw(db, chair, case, draft, NOW + 19 * DAY)
    assert early.value.status_code == 409 and "17/12/2026" in str(early.value.message)
    db.rollback()
    with pytest.raises(RoleNotPermitted):
        withdraw(db, handler, case, draft, NOW + 20 * DAY)
    db.rollback()
    assert withdraw(db, chair, case, draft, NOW + 20 * DAY).changed
    assert not withdraw(db, chair, case, draft, NOW + 21 * DAY).changed
    assert published_results(db, world.organisation.id) == ([], False)


def withdraw(db, staff, case, draft, now):
    return withdraw_publication(
        db,
        staff.account,
        case.id,
        publication_id=draft.id,
        now=now,
        publication_days=PUBLISHED_DAYS,
    )


def test_the_publication_period_is_the_one_passed_in_not_the_apps(db, world, filed, app):
    assert app.config["PUBLICATION_DAYS"] == 20  # the app says 20; the argument says 45
    handler, chair = world["cd_handler"], world["cd_chair"]
    case = filed.case
    resolve(db, world, case)
    draft = draft_publication(db, handler.principal(), case.id, text="KQ", now=NOW)
    approve_publication(
        db,
        chair.principal(),
        case.id,
        publication_id=draft.id,
        revision=1,
        now=NOW,
        publication_days=45,
    )
    assert db.get(Publication, draft.id).public_until == NOW.date() + 45 * DAY
    with pytest.raises(StillRequired) as early:
        withdraw_publication(
            db,
            chair.account,
            case.id,
            publication_id=draft.id,
            now=NOW + 30 * DAY,
            publication_days=45,
        )
    assert "45" in str(early.value.message) and "11/01/2027" in str(early.value.message)


def test_publication_days_cannot_be_set_below_the_law():
    from config import ConfigError, load_config

    with pytest.raises(ConfigError, match="PUBLICATION_DAYS"):
        load_config({"HOMTHU_ENV": "testing", "PUBLICATION_DAYS": "5"})
    assert load_config({"HOMTHU_ENV": "testing"})["REOPEN_WINDOW_DAYS"] == 30
