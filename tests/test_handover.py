"""People come and go: granting a colleague access, recovery with the paper key, deactivation,
an administrator's reset — and an administrator never holds a key to any case."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.admin import invitations
from service.cases import handover
from service.cases.casework import handler_case_view
from service.mail.outbox import delivery_bodies
from service.models import (
    Account,
    AuditEvent,
    Case,
    CaseKeyWrap,
    CaseStatus,
    Invitation,
    OutboxMessage,
    Role,
    StaffSession,
)
from service.people.principal import Principal
from service.people.sessions import STAFF_COOKIE, SessionToken
from service.platform.errors import KeyUnavailable, NotFound, WrongRecoveryCode
from service.sealing import SealingError, keyring, recovery, staff_keys
from tests.casefactory import file_case, keys_of
from tests.conftest import add_staff, domain_session, found, get_csrf

BANNER = 'data-testid="unreadable-banner"'
DEACTIVATED_MESSAGE = "Tài khoản này đã bị vô hiệu hóa"


def _account(db, staff) -> Account:
    return db.get(Account, staff.account.id)


def _events(db, action: str) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- an administrator holds nothing --------------------------------------------------------


def test_an_administrators_session_holds_no_key_that_opens_any_case(app, world, staff_client):
    admin = add_staff(app, world, "admin", Role.ADMIN, None)
    with domain_session(app) as db:
        for body in (world.cd, world.ttnd):
            file_case(db, world, body, named=True, files=[("a.txt", b"x")])
        case_ids = db.scalars(select(Case.id)).all()
    client = staff_client(admin)
    assert client.get("/admin/").status_code == 200
    for case_id in case_ids:  # the routes refuse an administrator
        assert client.get(f"/board/cases/{case_id}").status_code == 403
    with domain_session(app) as db:
        # The session row holds the admin's own private key, sealed under the cookie's key.
        token = SessionToken.parse(client.get_cookie(STAFF_COOKIE).value)
        assert token is not None
        private_key = token.open(db.get_one(StaffSession, token.row_id).sealed)
        assert private_key == admin.private_key()
        # No wrap exists for the administrator; their key opens none of the wraps that exist.
        wraps = db.scalars(select(CaseKeyWrap)).all()
        assert wraps and not [w for w in wraps if w.account_id == admin.account.id]
        for wrap in wraps:
            with pytest.raises(SealingError):
                keyring.unwrap_case_key(private_key, wrap.wrapped, wrap.case_id, wrap.purpose)
        # And the domain refuses before the keys are even tried.
        for case_id in case_ids:
            with pytest.raises(NotFound):
                handler_case_view(db, Principal(_account(db, admin), private_key), case_id)


def test_nobody_can_grant_an_administrator_access(db, world, app):
    admin = add_staff(app, world, "admin", Role.ADMIN, None)
    file_case(db, world)
    chair = world["cd_chair"]
    with pytest.raises(NotFound):
        handover.grant_access(
            db, Principal(_account(db, chair), chair.private_key()), grantee_id=admin.account.id
        )


# --- granting a colleague ------------------------------------------------------------------


def test_a_new_colleague_reads_nothing_until_granted_then_reads_every_open_case(app, db, world):
    cases = [file_case(db, world).case for _ in range(3)]
    newcomer = add_staff(app, world, "cd_new", Role.HANDLER, world.cd)
    for case in cases:
        with pytest.raises(KeyUnavailable):
            keys_of(db, newcomer, case)
    handler = world["cd_handler"]
    result = handover.grant_access(
        db, Principal(_account(db, handler), handler.private_key()), grantee_id=newcomer.account.id
    )
    assert (result.granted, result.excluded, result.already) == (3, 0, 0)
    for case in cases:
        view = handler_case_view(
            db, Principal(_account(db, newcomer), newcomer.private_key()), case.id
        )
        assert view.title == "Máy lạnh hỏng"
    assert len(_events(db, "case.access_granted")) == 3
    mail = db.scalars(select(OutboxMessage.recipient)).all()
    assert newcomer.email in mail
    again = handover.grant_access(
        db, Principal(_account(db, handler), handler.private_key()), grantee_id=newcomer.account.id
    )
    assert (again.granted, again.already) == (0, 3)


def test_a_grant_skips_cases_the_reporter_excluded_the_colleague_from(app, db, world):
    allowed = file_case(db, world).case  # filed before the newcomer came: no wrap for them
    newcomer = add_staff(app, world, "cd_new", Role.HANDLER, world.cd)
    excluded = file_case(db, world, excluded=("cd_new",)).case
    chair = world["cd_chair"]
    result = handover.grant_access(
        db, Principal(_account(db, chair), chair.private_key()), grantee_id=newcomer.account.id
    )
    assert (result.granted, result.excluded) == (1, 1)
    assert keys_of(db, newcomer, allowed).case
    with pytest.raises(KeyUnavailable):
        keys_of(db, newcomer, excluded)


def test_a_handler_never_passes_the_identity_key_and_a_chair_passes_it_only_to_a_chair(
    app, db, world
):
    case = file_case(db, world, named=True).case
    new_handler = add_staff(app, world, "cd_new_handler", Role.HANDLER, world.cd)
    new_chair = add_staff(app, world, "cd_new_chair", Role.CHAIR, world.cd)
    chair, handler = world["cd_chair"], world["cd_handler"]
    handover.grant_access(
        db, Principal(_account(db, chair), chair.private_key()), grantee_id=new_handler.account.id
    )
    handover.grant_access(
        db, Principal(_account(db, handler), handler.private_key()), grantee_id=new_chair.account.id
    )
    assert keys_of(db, new_handler, case).identity is None
    assert keys_of(db, new_chair, case).identity is None  # a handler had none to give
    handover.grant_access(
        db, Principal(_account(db, chair), chair.private_key()), grantee_id=new_chair.account.id
    )
    assert keys_of(db, new_chair, case).identity is not None


def test_a_grant_reaches_only_colleagues_of_the_same_body_and_only_open_cases(app, db, world):
    file_case(db, world)
    chair = world["cd_chair"]
    with pytest.raises(NotFound):
        handover.grant_access(
            db,
            Principal(_account(db, chair), chair.private_key()),
            grantee_id=world["ttnd_handler"].account.id,
        )
    closed = file_case(db, world).case
    db.get(Case, closed.id).status = CaseStatus.CLOSED
    db.commit()
    newcomer = add_staff(app, world, "cd_new", Role.HANDLER, world.cd)
    result = handover.grant_access(
        db, Principal(_account(db, chair), chair.private_key()), grantee_id=newcomer.account.id
    )
    assert result.granted == 1
    with pytest.raises(KeyUnavailable):
        keys_of(db, newcomer, closed)


def test_granting_through_the_colleagues_page(app, world, staff_client):
    with domain_session(app) as db:
        case = file_case(db, world).case
    newcomer = add_staff(app, world, "cd_new", Role.HANDLER, world.cd)
    client = staff_client(world["cd_handler"])
    page = client.get("/board/colleagues").get_data(as_text=True)
    assert newcomer.account.display_name in page
    token = get_csrf(client, "/board/colleagues")
    response = client.post(
        f"/board/colleagues/{newcomer.account.id}/grant", data={"csrf_token": token}
    )
    assert response.status_code == 302
    with domain_session(app) as db:
        assert keys_of(db, newcomer, case).case
    other = client.post(
        f"/board/colleagues/{world['ttnd_handler'].account.id}/grant", data={"csrf_token": token}
    )
    assert other.status_code == 404


# --- deactivation --------------------------------------------------------------------------


def test_deactivation_removes_wraps_ends_sessions_unassigns_and_warns_the_chair(
    app, world, staff_client
):
    admin = add_staff(app, world, "admin", Role.ADMIN, None)
    handler = world["cd_handler"]
    with domain_session(app) as db:
        only_handler = file_case(db, world, excluded=("cd_chair",)).case  # the handler's alone
        shared = file_case(db, world).case
        db.get_one(Case, shared.id).assignee_id = handler.account.id
        db.commit()
    handler_browser = staff_client(handler)
    chair_browser = staff_client(world["cd_chair"])
    assert BANNER not in chair_browser.get("/board/").get_data(as_text=True)

    admin_browser = staff_client(admin)
    token = get_csrf(admin_browser, "/admin/staff")
    response = admin_browser.post(
        f"/admin/staff/{handler.account.id}/deactivate", data={"csrf_token": token}
    )
    assert response.status_code == 302
    with domain_session(app) as db:
        wraps = db.scalar(
            select(func.count())
            .select_from(CaseKeyWrap)
            .where(CaseKeyWrap.account_id == handler.account.id)
        )
        assert wraps == 0
        assert db.get_one(Case, shared.id).assignee_id is None
        assert [c.id for c in handover.unreadable_cases(db, world.cd.id)] == [only_handler.id]
        warned = db.scalars(
            select(OutboxMessage).where(OutboxMessage.subject.contains("không còn ai đọc"))
        ).all()
        assert [m.recipient for m in warned] == [world["cd_chair"].email]
        (event,) = _events(db, "account.deactivated")
        assert '"unassigned":1' in event.details and '"unreadable":1' in event.details
        assert len(_events(db, "case.unassigned")) == 1
    assert BANNER in chair_browser.get("/board/").get_data(as_text=True)

    # The old session gets a clear 403 page once, then the ordinary login page.
    response = handler_browser.get("/board/")
    assert response.status_code == 403
    assert DEACTIVATED_MESSAGE in response.get_data(as_text=True)
    assert handler_browser.get("/board/").status_code == 401


def test_a_deactivated_account_cannot_log_in(app, world, client):
    admin = add_staff(app, world, "admin", Role.ADMIN, None)
    handler = world["cd_handler"]
    with domain_session(app) as db:
        handover.deactivate_account(db, _account(db, admin), handler.account.id)
    token = get_csrf(client, "/board/login")
    response = client.post(
        "/board/login",
        data={
            "csrf_token": token,
            "email": handler.email,
            "password": handler.password,
            "code": handler.code(),
        },
    )
    assert response.status_code == 401


def test_an_administrator_cannot_deactivate_themselves(app, db, world):
    admin = add_staff(app, world, "admin", Role.ADMIN, None)
    from service.platform.errors import InvalidSubmission

    with pytest.raises(InvalidSubmission):
        handover.deactivate_account(db, _account(db, admin), admin.account.id)


# --- the paper recovery key ----------------------------------------------------------------


def _recover(app, db, body_code: str, email: str, code: str):
    db.rollback()  # a read leaves SQLite's write lock with the test's session: release it
    return app.test_cli_runner().invoke(
        args=["keys", "recover", "--body", body_code, "--grant-to", email], input=code + "\n"
    )


def test_recovery_round_trip_a_new_handler_reads_an_old_case(app, db, world):
    old = file_case(db, world, title="Đơn cũ 2025", named=True, files=[("f.txt", b"f")]).case
    newest = file_case(db, world).case
    db.get(Case, old.id).status = CaseStatus.CLOSED
    db.commit()
    admin = add_staff(app, world, "admin", Role.ADMIN, None)
    for name in ("cd_handler", "cd_chair"):
        handover.deactivate_account(db, _account(db, admin), world[name].account.id)
    assert {c.id for c in handover.unreadable_cases(db, world.cd.id)} == {newest.id}
    db.rollback()
    newcomer = add_staff(app, world, "cd_new", Role.HANDLER, world.cd)

    result = _recover(app, db, "CD", newcomer.email, world.recovery_codes["CD"])
    assert result.exit_code == 0, result.output
    assert "2 cases granted" in result.output
    assert world.recovery_codes["CD"] not in result.output  # typed without echo
    db.expire_all()
    view = handler_case_view(db, Principal(_account(db, newcomer), newcomer.private_key()), old.id)
    assert view.title == "Đơn cũ 2025"
    assert view.identity is None and view.identity_withheld  # a handler: no identity key
    assert handover.unreadable_cases(db, world.cd.id) == []
    assert len(_events(db, "case.access_recovered")) == 2
    assert len(_events(db, "keys.recovery_used")) == 1


def test_recovery_gives_the_identity_key_only_to_a_chair_and_honours_exclusions(app, db, world):
    named = file_case(db, world, named=True).case
    new_chair = add_staff(app, world, "cd_new_chair", Role.CHAIR, world.cd)
    excluded = file_case(db, world, excluded=("cd_new_chair",)).case
    result = _recover(app, db, "CD", new_chair.email, world.recovery_codes["CD"])
    assert result.exit_code == 0, result.output
    db.expire_all()
    assert keys_of(db, new_chair, named).identity is not None
    with pytest.raises(KeyUnavailable):
        keys_of(db, new_chair, excluded)
    assert "1 skipped" in result.output


@pytest.mark.parametrize("which", ["other body's code", "mistyped", "empty"])
def test_a_wrong_recovery_code_is_refused_and_changes_nothing(app, db, world, which):
    file_case(db, world)
    newcomer = add_staff(app, world, "cd_new", Role.HANDLER, world.cd)
    code = {
        "other body's code": world.recovery_codes["TTND"],
        "mistyped": world.recovery_codes["CD"][:-2] + "00",
        "empty": "",
    }[which]
    before = db.scalar(select(func.count()).select_from(CaseKeyWrap))
    result = _recover(app, db, "CD", newcomer.email, code)
    assert result.exit_code != 0
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(CaseKeyWrap)) == before
    assert not _events(db, "keys.recovery_used")
    if which != "empty":
        assert "does not belong" in result.output or "không thuộc" in result.output


def test_check_recovery_code_compares_with_the_bodys_public_key(db, world):
    with pytest.raises(WrongRecoveryCode):
        handover.check_recovery_code(world.cd, world.recovery_codes["TTND"])
    private = handover.check_recovery_code(world.cd, world.recovery_codes["CD"].lower())
    assert recovery.public_key_of(private) == world.cd.recovery_public_key


def test_recovery_refuses_a_grantee_of_another_body(app, db, world):
    result = _recover(app, db, "CD", world["ttnd_handler"].email, world.recovery_codes["CD"])
    assert result.exit_code != 0


# --- an administrator's reset --------------------------------------------------------------


def test_a_reset_gives_new_keys_and_no_old_access_until_granted_again(app, world, client):
    admin = add_staff(app, world, "admin", Role.ADMIN, None)
    handler = world["cd_handler"]
    old_public = handler.account.public_key
    with domain_session(app) as db:
        case = file_case(db, world).case
        invitations.reset_password(
            db, _account(db, admin), handler.account.id, base_url="http://homthu.test", hours=72
        )
        mail = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
        assert mail is not None
        assert mail.recipient == handler.email
        token = found(r"/board/invite/([\w-]+)", delivery_bodies(mail)[0]).group(1)
        assert token not in "".join(db.scalars(select(Invitation.token_hash)))

    assert client.get(f"/board/invite/{token}").status_code == 200
    new_password = "một câu mật khẩu mới dài"
    response = client.post(
        f"/board/invite/{token}",
        data={
            "csrf_token": get_csrf(client, f"/board/invite/{token}"),
            "password": new_password,
            "confirm": new_password,
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/board/two-factor")
    with domain_session(app) as db:
        account = _account(db, handler)
        assert account.public_key != old_public and not account.totp_enrolled
        assert not keyring.has_wrap(db, case.id, account.id)
        private = staff_keys.unlock_private_key(account.wrapped_private_key, new_password)
        with pytest.raises(KeyUnavailable):
            keyring.open_case_keys_for_account(db, db.get_one(Case, case.id), account, private)
    # The link is spent.
    assert client.get(f"/board/invite/{token}").status_code == 410
    # A colleague grants the case again.
    chair = world["cd_chair"]
    with domain_session(app) as db:
        account = _account(db, handler)
        handover.grant_access(
            db, Principal(_account(db, chair), chair.private_key()), grantee_id=account.id
        )
        keys = keyring.open_case_keys_for_account(db, db.get_one(Case, case.id), account, private)
        assert keys.case and keys.staff
