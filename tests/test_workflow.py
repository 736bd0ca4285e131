"""The case state machine: every action × status × role, decided by one table."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import cast

import pytest
from sqlalchemy import func, select, update

from service.cases.casework import handler_case_view, open_case_with_receipt, reporter_case_view
from service.cases.intake import Identity, Submission, submit_case
from service.cases.lifecycle import (
    TRANSITIONS,
    Action,
    ExtensionRefused,
    RoleNotPermitted,
    TransitionRefused,
    accept_case,
    acknowledge_case,
    allowed_actions,
    assign_case,
    check_transition,
    close_case,
    decline_case,
    extend_deadline,
    reopen_case,
    resolve_case,
)
from service.models import (
    AuditEvent,
    Case,
    CaseKind,
    CaseStatus,
    MessageKind,
    OutboxMessage,
    Role,
)
from service.platform.errors import InvalidSubmission, NotFound
from service.sealing.profiles import FAST

NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)
S = CaseStatus

# What the design allows: (action) → (from statuses, to status, roles). Written out here
# independently of the code's table, so a change to one without the other fails.
EXPECTED = {
    Action.ACKNOWLEDGE: ({S.NEW, S.TRANSFERRED}, S.ACKNOWLEDGED, {"handler", "chair"}),
    Action.ACCEPT: ({S.ACKNOWLEDGED}, S.IN_PROGRESS, {"handler", "chair"}),
    Action.DECLINE: ({S.NEW, S.TRANSFERRED, S.ACKNOWLEDGED}, S.NOT_ACCEPTED, {"chair"}),
    Action.RESOLVE: ({S.IN_PROGRESS}, S.RESOLVED, {"handler", "chair"}),
    Action.CLOSE: ({S.RESOLVED, S.NOT_ACCEPTED}, S.CLOSED, {"chair"}),
    Action.REOPEN: ({S.RESOLVED, S.NOT_ACCEPTED, S.CLOSED}, S.IN_PROGRESS, {"chair", "reporter"}),
    Action.TRANSFER: (
        {S.NEW, S.TRANSFERRED, S.ACKNOWLEDGED, S.IN_PROGRESS},
        S.TRANSFERRED,
        {"handler", "chair"},
    ),
}
ROLES = ("handler", "chair", "admin", "reporter")


class FakeCase:
    def __init__(self, status):
        self.status = status


@pytest.mark.parametrize(
    ("action", "status", "role"), list(itertools.product(Action, CaseStatus, ROLES))
)
def test_every_action_status_and_role(action, status, role):
    sources, target, roles = EXPECTED[action]
    case = cast(Case, FakeCase(status))  # the lifecycle reads only its status
    if role not in roles:
        with pytest.raises(RoleNotPermitted):
            check_transition(case, action, role)
    elif status in sources:
        assert check_transition(case, action, role) is True
    elif status == target:
        assert check_transition(case, action, role) is False  # already done: nothing changes
    else:
        with pytest.raises(TransitionRefused) as refused:
            check_transition(case, action, role)
        assert 400 <= refused.value.status_code < 500


def test_the_table_in_the_code_is_the_table_of_the_design():
    assert {
        action: (set(t.sources), t.target, set(t.roles)) for action, t in TRANSITIONS.items()
    } == EXPECTED


def test_allowed_actions_lists_what_the_page_may_offer():
    assert allowed_actions(cast(Case, FakeCase(S.NEW)), "handler") == [
        Action.ACKNOWLEDGE,
        Action.TRANSFER,
    ]
    assert allowed_actions(cast(Case, FakeCase(S.NEW)), "chair") == [
        Action.ACKNOWLEDGE,
        Action.DECLINE,
        Action.TRANSFER,
    ]
    assert allowed_actions(cast(Case, FakeCase(S.CLOSED)), "handler") == []


# --- through the domain functions, on a real database ---------------------------------------


NAMED = Identity("A", "", "B")


def file(db, world, kind=CaseKind.COMPLAINT, identity=NAMED, **fields):
    submission = Submission(kind=kind, title="t", text="x", identity=identity, **fields)
    filed = submit_case(db, world.organisation, submission, now=NOW)
    db.commit()  # as the filing's request would
    return filed


def events(db, case_id):
    return db.scalars(
        select(AuditEvent.action).where(AuditEvent.case_id == case_id).order_by(AuditEvent.seq)
    ).all()


def test_a_complaint_runs_its_course_with_its_legal_clocks(db, world):
    handler, chair = world["ttnd_handler"], world["ttnd_chair"]
    case = file(db, world).case  # named complaint → Inspection Board, formal track
    assert (case.acknowledge_due, case.accept_due) == (dt.date(2026, 12, 11), dt.date(2026, 12, 7))
    assert case.next_due == case.acknowledge_due and case.resolve_due is None

    day = dt.timedelta(days=1)
    acknowledge_case(db, handler.account, case.id, now=NOW + day)
    assert case.status == S.ACKNOWLEDGED and case.acknowledged_on == dt.date(2026, 11, 28)
    assert case.next_due == case.accept_due

    accept_case(db, handler.account, case.id, now=NOW + 3 * day)
    assert case.accepted_on == dt.date(2026, 11, 30)
    assert case.resolve_due == dt.date(2026, 12, 30)  # 30 calendar days from acceptance
    assert case.next_due == case.resolve_due

    resolve_case(db, handler.principal(), case.id, summary="Đã xử lý", now=NOW + 9 * day)
    assert case.status == S.RESOLVED and case.decided_on == dt.date(2026, 12, 6)
    assert case.next_due is None

    close_case(db, chair.account, case.id, now=NOW + 10 * day)
    assert case.status == S.CLOSED and case.closed_on == dt.date(2026, 12, 7)
    assert events(db, case.id) == [
        "case.submitted",
        "case.acknowledge",
        "case.accept",
        "case.resolve",
        "case.close",
    ]


def test_the_decision_is_explained_to_the_reporter_and_sealed(db, world):
    handler = world["ttnd_handler"]
    filed = file(db, world)
    acknowledge_case(db, handler.account, filed.case.id, now=NOW)
    accept_case(db, handler.account, filed.case.id, now=NOW)
    resolve_case(db, handler.principal(), filed.case.id, summary="Kết luận XYZ", now=NOW)
    view = reporter_case_view(db, open_case_with_receipt(db, world.organisation, filed.receipt))
    assert [(m.kind, m.text) for m in view.messages] == [(MessageKind.DECISION, "Kết luận XYZ")]


def test_repeating_a_transition_changes_nothing(db, world):
    handler = world["ttnd_handler"]
    case = file(db, world).case
    first = acknowledge_case(db, handler.account, case.id, now=NOW)
    second = acknowledge_case(db, handler.account, case.id, now=NOW + dt.timedelta(days=2))
    assert (first.changed, second.changed) == (True, False)
    assert case.acknowledged_on == dt.date(2026, 11, 27)
    assert events(db, case.id).count("case.acknowledge") == 1
    accept_case(db, handler.account, case.id, now=NOW)
    resolve_case(db, handler.principal(), case.id, summary="một", now=NOW)
    again = resolve_case(db, handler.principal(), case.id, summary="hai", now=NOW)
    assert not again.changed
    view = handler_case_view(db, handler.principal(), case.id)
    assert [m.text for m in view.messages] == ["một"]


def test_a_transition_from_the_wrong_status_is_refused_and_changes_nothing(db, world):
    handler = world["ttnd_handler"]
    case = file(db, world).case
    with pytest.raises(TransitionRefused):
        resolve_case(db, handler.principal(), case.id, summary="quá sớm", now=NOW)
    db.rollback()
    assert db.get(Case, case.id).status == S.NEW
    assert events(db, case.id) == ["case.submitted"]


def test_only_the_chair_declines_closes_reopens_assigns_and_extends(db, world):
    handler = world["ttnd_handler"]
    case = file(db, world).case
    with pytest.raises(RoleNotPermitted):
        decline_case(db, handler.principal(), case.id, reason="không", now=NOW)
    with pytest.raises(RoleNotPermitted):
        assign_case(db, handler.account, case.id, assignee_id=handler.account.id, now=NOW)
    with pytest.raises(RoleNotPermitted):
        extend_deadline(db, handler.principal(), case.id, reason="lý do", now=NOW)


def test_nobody_outside_the_body_can_move_the_case(db, world):
    case = file(db, world).case
    for outsider in ("cd_handler", "cd_chair"):
        with pytest.raises(NotFound):
            acknowledge_case(db, world[outsider].account, case.id, now=NOW)


def test_decline_needs_a_reason_and_the_reporter_sees_it(db, world):
    chair = world["ttnd_chair"]
    filed = file(db, world)
    with pytest.raises(InvalidSubmission):
        decline_case(db, chair.principal(), filed.case.id, reason="  ", now=NOW)
    decline_case(db, chair.principal(), filed.case.id, reason="Ngoài thẩm quyền", now=NOW)
    assert filed.case.status == S.NOT_ACCEPTED and filed.case.next_due is None
    view = reporter_case_view(db, open_case_with_receipt(db, world.organisation, filed.receipt))
    assert view.messages[-1].text == "Ngoài thẩm quyền"


def test_the_chair_reopens_a_closed_case_onto_the_resolve_clock(db, world):
    handler, chair = world["ttnd_handler"], world["ttnd_chair"]
    case = file(db, world).case
    acknowledge_case(db, handler.account, case.id, now=NOW)
    accept_case(db, handler.account, case.id, now=NOW)
    resolve_case(db, handler.principal(), case.id, summary="xong", now=NOW)
    close_case(db, chair.account, case.id, now=NOW)
    reopen_case(db, chair.account, case.id, now=NOW)
    assert (case.status, case.reopen_count, case.closed_on) == (S.IN_PROGRESS, 1, None)
    assert case.next_due == case.resolve_due


def test_assignment_goes_to_a_handler_holding_the_key_and_mails_them(db, world):
    chair, handler = world["ttnd_chair"], world["ttnd_handler"]
    case = file(db, world).case
    assign_case(db, chair.account, case.id, assignee_id=handler.account.id, now=NOW)
    assert case.assignee_id == handler.account.id
    mails = db.scalars(select(OutboxMessage.recipient).order_by(OutboxMessage.id)).all()
    assert mails[-1] == handler.email
    # Again: no change.
    assign_case(db, chair.account, case.id, assignee_id=handler.account.id, now=NOW)
    assert events(db, case.id).count("case.assigned") == 1
    with pytest.raises(InvalidSubmission):  # a handler of the other body
        assign_case(db, chair.account, case.id, assignee_id=world["cd_handler"].account.id, now=NOW)


def test_an_excluded_handler_cannot_be_assigned(db, world):
    chair, handler = world["ttnd_chair"], world["ttnd_handler"]
    case = file(db, world, excluded_account_ids=frozenset({handler.account.id})).case
    with pytest.raises(InvalidSubmission):
        assign_case(db, chair.account, case.id, assignee_id=handler.account.id, now=NOW)


@pytest.mark.parametrize(
    ("kind", "allowed", "days"),
    [(CaseKind.COMPLAINT, 1, 15), (CaseKind.DENUNCIATION, 2, 30)],
)
def test_extensions_move_the_resolve_deadline_as_often_as_the_law_allows(
    db, world, kind, allowed, days
):
    handler, chair = world["ttnd_handler"], world["ttnd_chair"]
    case = file(db, world, kind=kind).case
    acknowledge_case(db, handler.account, case.id, now=NOW)
    accept_case(db, handler.account, case.id, now=NOW)
    due = case.resolve_due
    for n in range(1, allowed + 1):
        extend_deadline(db, chair.principal(), case.id, reason=f"phức tạp {n}", now=NOW)
        db.commit()  # each extension is a request of its own
        assert case.resolve_due == due + dt.timedelta(days=days * n)
        assert case.next_due == case.resolve_due
    with pytest.raises(ExtensionRefused):
        extend_deadline(db, chair.principal(), case.id, reason="lần nữa", now=NOW)
    db.rollback()
    extended = db.scalars(
        select(AuditEvent).where(
            AuditEvent.case_id == case.id, AuditEvent.action == "case.deadline_extended"
        )
    ).all()
    assert len(extended) == allowed
    assert "phức tạp" not in "".join(e.details for e in extended)  # the reason is a sealed note
    view = handler_case_view(db, handler.principal(), case.id)
    assert [m.kind for m in view.messages] == [MessageKind.NOTE] * allowed


def test_an_extension_needs_a_reason(db, world):
    chair = world["ttnd_chair"]
    case = file(db, world).case
    with pytest.raises(InvalidSubmission):
        extend_deadline(db, chair.principal(), case.id, reason="", now=NOW)


def test_internal_notes_never_reach_the_reporter(db, world):
    handler, chair = world["ttnd_handler"], world["ttnd_chair"]
    filed = file(db, world)
    acknowledge_case(db, handler.account, filed.case.id, now=NOW)
    accept_case(db, handler.account, filed.case.id, now=NOW)
    extend_deadline(db, chair.principal(), filed.case.id, reason="ghi chú nội bộ", now=NOW)
    view = reporter_case_view(db, open_case_with_receipt(db, world.organisation, filed.receipt))
    assert view.messages == []


def test_an_anonymous_complaint_runs_on_the_acknowledge_clock_only(db, world):
    handler = world["ttnd_handler"]
    case = file(db, world, identity=None).case
    assert case.accept_due is None and case.resolve_due is None
    acknowledge_case(db, handler.account, case.id, now=NOW)
    accept_case(db, handler.account, case.id, now=NOW)  # verifying the information
    assert case.resolve_due is None and case.next_due is None


def test_a_suggestion_is_resolved_within_fifteen_working_days_of_acknowledgement(db, world):
    handler = world["cd_handler"]
    case = file(db, world, kind=CaseKind.SUGGESTION, identity=None).case
    assert case.accept_due is None and case.resolve_due is None
    acknowledge_case(db, handler.account, case.id, now=NOW)  # Friday 27 November 2026
    assert case.resolve_due == dt.date(2026, 12, 18)
    assert case.next_due == case.resolve_due  # nothing to accept: the resolve clock runs


def test_deadline_rules_are_read_from_the_database(db, world):
    from service.models import DeadlineRule

    db.execute(
        update(DeadlineRule)
        .where(DeadlineRule.kind == "problem", DeadlineRule.stage == "acknowledge")
        .values(days=3, unit="calendar")
    )
    db.commit()
    case = file(db, world, kind=CaseKind.PROBLEM, identity=None).case
    assert case.acknowledge_due == dt.date(2026, 11, 30)


def test_transitions_write_status_event_and_mail_in_one_transaction(db, world, monkeypatch):
    """If the audit append fails, the status does not change either."""
    chair, handler = world["ttnd_chair"], world["ttnd_handler"]
    case = file(db, world).case
    import service.cases.lifecycle as workflow

    def failing(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(workflow, "record_event", failing)
    with pytest.raises(RuntimeError):
        assign_case(db, chair.account, case.id, assignee_id=handler.account.id, now=NOW)
    db.rollback()
    assert db.get(Case, case.id).assignee_id is None
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 2  # intake's only


def test_roles_of_the_design_are_the_roles_of_the_accounts():
    assert {r.value for r in Role} == {"handler", "chair", "admin"}


def test_an_administrator_cannot_move_a_case(db, world):
    from service.people.accounts import create_account

    admin = create_account(
        db,
        world.organisation,
        email="admin@homthu.test",
        display_name="Quản trị",
        role=Role.ADMIN,
        password="admin-password",
        profile=FAST,
    )
    db.commit()
    case = file(db, world).case
    with pytest.raises(NotFound):  # not even told the case exists
        acknowledge_case(db, admin, case.id, now=NOW)
