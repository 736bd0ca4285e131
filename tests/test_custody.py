"""Who holds a case's keys: transfer, exclusions, recusal, identity custody, head of unit."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from service.admin.organisations import create_body
from service.cases.casework import (
    add_note,
    handler_case_view,
    open_case_with_receipt,
    reporter_case_view,
)
from service.cases.custody import (
    HeadOfUnitRefused,
    IdentityCustodyRequired,
    NoEligibleReader,
    grant_identity,
    recuse_case,
    transfer_case,
    transfer_targets,
)
from service.cases.intake import Identity, Submission, submit_case
from service.cases.lifecycle import (
    RoleNotPermitted,
    accept_case,
    acknowledge_case,
    assign_case,
)
from service.models import (
    AuditEvent,
    BodyKind,
    CaseKeyWrap,
    CaseKind,
    CaseStatus,
    KeyPurpose,
    MessageKind,
    OutboxMessage,
)
from service.platform.errors import InvalidSubmission, NotFound, ReadOnlyAccess
from service.rules.policy import route
from service.sealing import SealingError, keyring, recovery
from service.sealing.casefiles import open_text

NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)  # Friday 27 November 2026, 10:00 local
LATER = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)  # Wednesday 2 December
NAMED = Identity("Nguyễn Văn A", "Phòng B", "a@example.test")


def file(db, world, *, kind=CaseKind.PROBLEM, identity=None, body=None, **fields):
    submission = Submission(
        kind=kind,
        title="Tiêu đề",
        text="Nội dung",
        identity=identity,
        body_id=body.id if body is not None else None,
        **fields,
    )
    filed = submit_case(db, world.organisation, submission, now=NOW)
    db.commit()  # as the filing's request would
    return filed


def opens_with(db, case_id: str, private_key: bytes) -> set[str]:
    """Which of the case's keys `private_key` unwraps from ANY row of the database."""
    opened = set()
    for wrap in db.scalars(select(CaseKeyWrap).where(CaseKeyWrap.case_id == case_id)):
        try:
            keyring.unwrap_case_key(private_key, wrap.wrapped, case_id, wrap.purpose)
        except SealingError:
            continue
        opened.add(wrap.purpose)
    return opened


def title_with(db, case, private_key: bytes) -> str:
    """Decrypt the title straight from the database with a private key, bypassing the app."""
    for wrap in db.scalars(
        select(CaseKeyWrap).where(
            CaseKeyWrap.case_id == case.id, CaseKeyWrap.purpose == KeyPurpose.CASE
        )
    ):
        try:
            key = keyring.unwrap_case_key(private_key, wrap.wrapped, case.id, KeyPurpose.CASE)
        except SealingError:
            continue
        return open_text(key, case.id, "title", case.title_ct)
    raise PermissionError("no wrap opens")


def actions(db, case_id):
    return db.scalars(
        select(AuditEvent.action).where(AuditEvent.case_id == case_id).order_by(AuditEvent.seq)
    ).all()


# --- transfer --------------------------------------------------------------------------------


def test_after_a_transfer_the_old_body_cannot_decrypt_and_the_new_body_can(db, world):
    filed = file(db, world, identity=NAMED, body=world.cd)
    case = filed.case
    chair = world["cd_chair"]
    transfer_case(
        db,
        chair.principal(),
        case.id,
        to_body_id=world.ttnd.id,
        keep_access=False,
        reason="Thẩm quyền TTND",
    )

    for name in ("cd_chair", "cd_handler"):
        assert opens_with(db, case.id, world[name].private_key()) == set(), name
        with pytest.raises(PermissionError):
            title_with(db, case, world[name].private_key())
    cd_recovery = recovery.private_key_from_code(world.recovery_codes["CD"])
    assert opens_with(db, case.id, cd_recovery) == set()

    assert opens_with(db, case.id, world["ttnd_handler"].private_key()) == {"case", "staff"}
    assert opens_with(db, case.id, world["ttnd_chair"].private_key()) == {
        "case",
        "staff",
        "identity",
    }
    ttnd_recovery = recovery.private_key_from_code(world.recovery_codes["TTND"])
    assert opens_with(db, case.id, ttnd_recovery) == {"case", "staff", "identity"}
    assert title_with(db, case, world["ttnd_handler"].private_key()) == "Tiêu đề"

    # The reporter's receipt still opens it, and the receiving body reads the reason.
    access = open_case_with_receipt(db, world.organisation, filed.receipt)
    assert reporter_case_view(db, access).case.status == CaseStatus.TRANSFERRED
    handler = world["ttnd_handler"]
    view = handler_case_view(db, handler.principal(), case.id)
    assert [(m.kind, m.text) for m in view.messages] == [(MessageKind.NOTE, "Thẩm quyền TTND")]
    with pytest.raises(NotFound):
        handler_case_view(db, world["cd_handler"].principal(), case.id)


def test_a_transfer_restarts_the_receiving_bodys_clocks_from_the_day_of_transfer(db, world):
    case = file(db, world, kind=CaseKind.COMPLAINT, identity=NAMED).case  # → TTND
    chair = world["ttnd_chair"]
    acknowledge_case(db, chair.account, case.id, now=NOW)
    accept_case(db, chair.account, case.id, now=NOW)
    assign_case(db, chair.account, case.id, assignee_id=world["ttnd_handler"].account.id, now=NOW)
    transfer_case(
        db,
        chair.principal(),
        case.id,
        to_body_id=world.cd.id,
        keep_access=False,
        reason="Lý do",
        now=LATER,
    )
    assert case.status == CaseStatus.TRANSFERRED and case.body_id == world.cd.id
    assert (case.transferred_on, case.transfer_count) == (dt.date(2026, 12, 2), 1)
    assert case.received_on == dt.date(2026, 11, 27)  # what the reporter did stays as it was
    assert case.acknowledged_on is None and case.accepted_on is None
    assert case.assignee_id is None and case.resolve_due is None
    # 10 working days and 10 calendar days, counted from Wednesday 2 December.
    assert (case.acknowledge_due, case.accept_due) == (dt.date(2026, 12, 16), dt.date(2026, 12, 12))
    assert case.next_due == case.acknowledge_due
    cd_chair = world["cd_chair"]
    acknowledge_case(db, cd_chair.account, case.id, now=LATER)  # acknowledged like a new case
    assert case.status == CaseStatus.ACKNOWLEDGED
    assert actions(db, case.id)[-2:] == ["case.transferred", "case.acknowledge"]
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "case.transferred")).one()
    assert '"from":"TTND"' in event.details and '"to":"CD"' in event.details
    assert "Lý do" not in event.details


def test_the_receiving_readers_are_mailed_that_a_case_arrived(db, world):
    case = file(db, world).case
    before = db.scalar(select(func.count()).select_from(OutboxMessage))
    handler = world["cd_handler"]
    transfer_case(
        db,
        handler.principal(),
        case.id,
        to_body_id=world.ttnd.id,
        keep_access=False,
        reason="x",
    )
    mails = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id).offset(before)).all()
    assert {m.recipient for m in mails} == {world["ttnd_chair"].email, world["ttnd_handler"].email}


def test_a_transfer_honours_the_reporters_exclusions(db, world):
    excluded = world["ttnd_handler"].account.id
    case = file(db, world, excluded_account_ids=frozenset({excluded})).case
    handler = world["cd_handler"]
    transfer_case(
        db,
        handler.principal(),
        case.id,
        to_body_id=world.ttnd.id,
        keep_access=False,
        reason="x",
    )
    assert opens_with(db, case.id, world["ttnd_handler"].private_key()) == set()
    assert "case" in opens_with(db, case.id, world["ttnd_chair"].private_key())


def test_a_transfer_to_a_body_whose_members_are_all_excluded_is_refused(db, world):
    everyone = frozenset({world["ttnd_handler"].account.id, world["ttnd_chair"].account.id})
    case = file(db, world, excluded_account_ids=everyone).case
    handler = world["cd_handler"]
    with pytest.raises(NoEligibleReader):
        transfer_case(
            db,
            handler.principal(),
            case.id,
            to_body_id=world.ttnd.id,
            keep_access=False,
            reason="x",
        )
    db.rollback()
    assert case.body_id == world.cd.id and "case" in opens_with(db, case.id, handler.private_key())


def test_a_named_report_is_transferred_only_by_whoever_holds_the_identity(db, world):
    case = file(db, world, identity=NAMED, body=world.cd).case
    handler = world["cd_handler"]
    with pytest.raises(IdentityCustodyRequired):
        transfer_case(
            db,
            handler.principal(),
            case.id,
            to_body_id=world.ttnd.id,
            keep_access=False,
            reason="x",
        )


def test_keeping_access_leaves_the_transferring_handler_read_only(db, world):
    case = file(db, world).case
    handler, other = world["cd_handler"], world["cd_chair"]
    transfer_case(
        db,
        handler.principal(),
        case.id,
        to_body_id=world.ttnd.id,
        keep_access=True,
        reason="x",
    )
    assert opens_with(db, case.id, handler.private_key()) == {"case", "staff"}
    assert opens_with(db, case.id, other.private_key()) == set()  # nobody else of the body
    view = handler_case_view(db, handler.principal(), case.id)
    assert view.title == "Tiêu đề"
    with pytest.raises(ReadOnlyAccess) as refused:
        acknowledge_case(db, handler.account, case.id)
    assert refused.value.status_code == 403
    with pytest.raises(ReadOnlyAccess):
        add_note(db, handler.principal(), case.id, text="ghi chú")


def test_transferring_twice_from_two_tabs_changes_nothing_the_second_time(db, world):
    case = file(db, world).case
    handler = world["cd_handler"]
    args = (db, handler.principal(), case.id)
    given = {"to_body_id": world.ttnd.id, "keep_access": False, "reason": "x"}
    assert transfer_case(*args, **given).changed
    assert not transfer_case(*args, **given).changed
    assert case.transfer_count == 1 and actions(db, case.id).count("case.transferred") == 1


def test_a_transfer_needs_a_reason_and_a_real_other_body(db, world):
    case = file(db, world).case
    handler = world["cd_handler"]
    for body_id, reason in ((world.ttnd.id, "  "), (world.cd.id, "x"), (999, "x")):
        with pytest.raises(InvalidSubmission):
            transfer_case(
                db,
                handler.principal(),
                case.id,
                to_body_id=body_id,
                keep_access=False,
                reason=reason,
            )
        db.rollback()


# --- the head of unit ------------------------------------------------------------------------


@pytest.fixture
def head_of_unit(db, world):
    body = create_body(
        db,
        world.organisation,
        code="ttdv",
        kind=BodyKind.HEAD_OF_UNIT,
        name_vi="Thủ trưởng đơn vị",
        name_en="Head of unit",
    ).body
    db.commit()
    return body


def test_a_case_about_the_head_of_unit_never_goes_to_the_head_of_unit(db, world, head_of_unit):
    assert head_of_unit.code == "TTDV" and head_of_unit.position == 2
    with pytest.raises(InvalidSubmission):
        file(db, world, body=head_of_unit, concerns_head_of_unit=True)
    db.rollback()
    case = file(db, world, concerns_head_of_unit=True).case
    assert head_of_unit not in transfer_targets(db, case)
    handler = world["cd_handler"]
    with pytest.raises(HeadOfUnitRefused):
        transfer_case(
            db,
            handler.principal(),
            case.id,
            to_body_id=head_of_unit.id,
            keep_access=False,
            reason="x",
        )
    db.rollback()
    # A routing rule pointing at the head of unit is skipped for such a case.
    from service.models import RoutingRule

    db.add(RoutingRule(organisation_id=world.organisation.id, kind=None, body_id=head_of_unit.id))
    # __table__ is a Table, declared as the FromClause it is a kind of.
    db.execute(RoutingRule.__table__.delete().where(RoutingRule.body_id != head_of_unit.id))  # type: ignore[attr-defined]
    db.commit()
    assert route(db, world.organisation, CaseKind.PROBLEM, None).id == head_of_unit.id
    assert (
        route(db, world.organisation, CaseKind.PROBLEM, None, concerns_head_of_unit=True).id
        != head_of_unit.id
    )


def test_adding_a_body_prints_its_recovery_code_once_and_is_audited(app, db, world):
    result = app.test_cli_runner().invoke(
        args=[
            "org", "add-body", "--org", "test", "--code", "TTDV", "--kind", "head_of_unit",
            "--name-vi", "Thủ trưởng đơn vị", "--name-en", "Head of unit",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    code = result.output.split("TTDV", 2)[-1].split()[0]
    private = recovery.private_key_from_code(code)
    from service.models import Body

    body = db.scalars(select(Body).where(Body.code == "TTDV")).one()
    assert recovery.public_key_of(private) == body.recovery_public_key
    assert "body.created" in db.scalars(select(AuditEvent.action)).all()
    db.rollback()  # SQLite: let the command take the write lock
    again = app.test_cli_runner().invoke(
        args=[
            "org", "add-body", "--org", "test", "--code", "TTDV", "--kind", "head_of_unit",
            "--name-vi", "x", "--name-en", "x",
        ]
    )  # fmt: skip
    assert again.exit_code != 0 and "recovery" not in again.output.lower()
    assert len(db.scalars(select(Body).where(Body.code == "TTDV")).all()) == 1


# --- exclusions and recusal ------------------------------------------------------------------


def test_intake_routes_around_a_body_whose_members_are_all_excluded(db, world):
    everyone = frozenset({world["cd_handler"].account.id, world["cd_chair"].account.id})
    filed = file(db, world, body=world.cd, excluded_account_ids=everyone)
    assert filed.case.body_id == world.ttnd.id and filed.rerouted_from.id == world.cd.id
    assert filed.case.reference.startswith("TTND-")
    for name in ("cd_handler", "cd_chair"):
        assert opens_with(db, filed.case.id, world[name].private_key()) == set()


def test_excluding_everyone_who_could_receive_a_report_is_refused(db, world):
    everyone = frozenset(world[name].account.id for name in world.staff)
    with pytest.raises(InvalidSubmission):
        file(db, world, excluded_account_ids=everyone)


def test_a_handler_who_recuses_loses_the_keys_and_the_assignment(db, world):
    case = file(db, world).case
    chair, handler = world["cd_chair"], world["cd_handler"]
    assign_case(db, chair.account, case.id, assignee_id=handler.account.id, now=NOW)
    outcome = recuse_case(db, handler.account, case.id, now=NOW)
    assert outcome.changed and case.assignee_id is None
    assert opens_with(db, case.id, handler.private_key()) == set()
    with pytest.raises(NotFound):
        handler_case_view(db, handler.principal(), case.id)
    assert not recuse_case(db, handler.account, case.id).changed  # a second tab
    assert actions(db, case.id).count("case.recused") == 1
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "case.recused")).one()
    assert event.actor_id == handler.account.id and '"unassigned":true' in event.details


def test_someone_who_never_held_the_case_cannot_recuse_from_it(db, world):
    case = file(db, world).case
    with pytest.raises(NotFound):
        recuse_case(db, world["ttnd_handler"].account, case.id)


# --- identity custody ------------------------------------------------------------------------


def test_the_chair_grants_the_identity_to_a_handler_explicitly(db, world):
    case = file(db, world, identity=NAMED, body=world.cd).case
    chair, handler = world["cd_chair"], world["cd_handler"]
    before = handler_case_view(db, handler.principal(), case.id)
    assert before.identity is None and before.identity_withheld
    with pytest.raises(RoleNotPermitted):
        grant_identity(db, handler.principal(), case.id, account_id=handler.account.id)
    assert grant_identity(db, chair.principal(), case.id, account_id=handler.account.id).changed
    after = handler_case_view(db, handler.principal(), case.id)
    assert after.identity == NAMED.as_dict()
    assert not grant_identity(db, chair.principal(), case.id, account_id=handler.account.id).changed
    granted = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "case.identity_granted")
    ).all()
    assert len(granted) == 1 and f'"account":{handler.account.id}' in granted[0].details


def test_an_anonymous_report_has_no_identity_to_grant(db, world):
    from service.cases.custody import AnonymousReport

    case = file(db, world).case
    chair = world["cd_chair"]
    with pytest.raises(AnonymousReport):
        grant_identity(db, chair.principal(), case.id, account_id=world["cd_handler"].account.id)


def test_the_identity_is_not_granted_to_someone_excluded(db, world):
    excluded = world["cd_handler"].account.id
    case = file(
        db, world, identity=NAMED, body=world.cd, excluded_account_ids=frozenset({excluded})
    ).case
    chair = world["cd_chair"]
    with pytest.raises(InvalidSubmission):
        grant_identity(db, chair.principal(), case.id, account_id=excluded)
