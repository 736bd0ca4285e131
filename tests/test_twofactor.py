"""The staff login: invitation, password rules, TOTP enrolment, codes used once, recovery codes,
throttling with one message for every failure, sessions that end when the password changes."""

from __future__ import annotations

import datetime as dt
import json
import re

import pyotp
import pytest
from sqlalchemy import select

from service.mail.outbox import delivery_bodies
from service.models import Account, AuditEvent, Invitation, OutboxMessage, Role, StaffSession
from service.people import accounts, twofactor
from service.people.accounts import LONGEST_DELAY, delay_after
from service.people.passwords import password_problems
from service.people.sessions import STAFF_COOKIE, StaffSessionPolicy
from service.platform.errors import LoginFailed
from service.platform.settings import SERVER_SECRET_INFO
from service.sealing import staff_keys
from service.sealing.profiles import FAST
from tests.conftest import add_staff, csrf_from, domain_session, found, get_csrf, log_in

POLICY = StaffSessionPolicy(idle=dt.timedelta(minutes=30), absolute=dt.timedelta(hours=8))
STRONG = "một câu mật khẩu đủ dài"
SECRET_ON_PAGE = re.compile(r'data-testid="totp-secret">([A-Z2-7 ]+)<')
CODES_ON_PAGE = re.compile(r"<li><code>([0-9A-Z-]{19})</code></li>")


def text_of(response) -> str:
    return response.get_data(as_text=True)


def post_login(client, staff, *, password=None, code=None, email=None):
    token = get_csrf(client, "/board/login")
    return client.post(
        "/board/login",
        data={
            "csrf_token": token,
            "email": email or staff.email,
            "password": staff.password if password is None else password,
            "code": staff.code() if code is None else code,
        },
    )


def failure_message(response) -> str:
    match = re.search(r'role="alert"><p>(.*?)</p>', text_of(response), re.S)
    assert match, text_of(response)[:500]
    return match.group(1)


def invite(app, world, email="moi@homthu.test", role="handler", body=None) -> str:
    """The administrator invites someone through the admin page; returns the mailed token."""
    admin = world.staff.get("admin") or add_staff(app, world, "admin", Role.ADMIN, None)
    client = log_in(app.test_client(), app, admin)
    token = get_csrf(client, "/admin/staff")
    response = client.post(
        "/admin/staff",
        data={
            "csrf_token": token,
            "email": email,
            "display_name": "Đoàn Thị Mới",
            "role": role,
            "body": str((body or world.cd).id) if role != "admin" else "",
        },
    )
    assert response.status_code == 302, text_of(response)
    with domain_session(app) as db:
        mail = db.scalars(select(OutboxMessage).where(OutboxMessage.recipient == email)).one()
        return found(r"/board/invite/([\w-]+)", delivery_bodies(mail)[0]).group(1)


def accept(client, token, password=STRONG, confirm=None):
    page = client.get(f"/board/invite/{token}")
    return client.post(
        f"/board/invite/{token}",
        data={
            "csrf_token": csrf_from(text_of(page)),
            "password": password,
            "confirm": password if confirm is None else confirm,
        },
    )


# --- enrolment -----------------------------------------------------------------------------


def test_an_invited_handler_sets_a_password_then_enrols_with_a_server_drawn_qr_code(app, world):
    token = invite(app, world)
    client = app.test_client()
    response = accept(client, token)
    assert response.status_code == 302 and response.headers["Location"] == "/board/two-factor"
    # Until the app is set up, the board stays closed: every page leads to the set-up.
    assert client.get("/board/").headers["Location"] == "/board/two-factor"
    page = client.get("/board/two-factor")
    html = text_of(page)
    assert page.status_code == 200
    assert re.search(r'<img class="qr" src="data:image/svg\+xml;base64,[A-Za-z0-9+/=]+"', html)
    assert "<script" not in html
    secret = found(SECRET_ON_PAGE, html).group(1).replace(" ", "")
    with domain_session(app) as db:
        account = db.scalar(select(Account).where(Account.email == "moi@homthu.test"))
        assert account is not None and account.totp_secret_ct is not None
        assert secret.encode() not in account.totp_secret_ct  # sealed, never in clear
        assert not account.totp_enrolled

    wrong = client.post("/board/two-factor", data={"csrf_token": csrf_from(html), "code": "000000"})
    assert wrong.status_code == 400 and 'role="alert"' in text_of(wrong)
    right = client.post(
        "/board/two-factor",
        data={"csrf_token": csrf_from(html), "code": pyotp.TOTP(secret).now()},
    )
    assert right.status_code == 200
    codes = CODES_ON_PAGE.findall(text_of(right))
    assert len(codes) == twofactor.RECOVERY_CODES and len(set(codes)) == len(codes)
    assert client.get("/board/").status_code == 200  # a full session, with a new id
    with domain_session(app) as db:
        account = db.scalar(select(Account).where(Account.email == "moi@homthu.test"))
        assert account is not None
        assert account.totp_enrolled
        stored = " ".join(row.code_hash for row in db.scalars(select(twofactor.RecoveryCode)))
        assert not any(code.replace("-", "") in stored for code in codes)


def test_the_enrolment_session_is_a_different_session_from_the_full_one(app, world):
    token = invite(app, world)
    client = app.test_client()
    accept(client, token)
    setup_cookie = client.get_cookie(STAFF_COOKIE).value
    html = text_of(client.get("/board/two-factor"))
    secret = found(SECRET_ON_PAGE, html).group(1).replace(" ", "")
    client.post(
        "/board/two-factor",
        data={"csrf_token": csrf_from(html), "code": pyotp.TOTP(secret).now()},
    )
    assert client.get_cookie(STAFF_COOKIE).value != setup_cookie
    stale = app.test_client()
    stale.set_cookie(STAFF_COOKIE, setup_cookie)
    assert stale.get("/board/").status_code == 401


def test_a_password_set_without_confirming_the_code_leads_back_to_the_set_up(app, world):
    token = invite(app, world)
    accept(app.test_client(), token)
    with domain_session(app) as db:
        account = db.scalar(select(Account).where(Account.email == "moi@homthu.test"))
        assert account is not None
    staff = type("S", (), {"email": account.email, "password": STRONG, "code": lambda s: ""})()
    client = app.test_client()
    response = post_login(client, staff, code="")
    assert response.status_code == 302 and response.headers["Location"] == "/board/two-factor"


@pytest.mark.parametrize(
    ("password", "confirm", "fragment"),
    [
        ("ngắn", None, "12"),
        ("123456789012345", None, ""),
        ("aaaaaaaaaaaaaaaa", None, ""),
        ("moi-homthu-pass-2026", None, ""),  # contains the email's local part
        ("Đoàn Thị Mới 2026 ok", None, ""),  # contains the name
        (STRONG, STRONG + "x", ""),
    ],
)
def test_a_weak_or_mistyped_password_is_refused_with_a_message_and_the_link_still_works(
    app, world, password, confirm, fragment
):
    token = invite(app, world)
    client = app.test_client()
    response = accept(client, token, password, confirm)
    assert response.status_code == 400
    assert 'class="field-errors"' in text_of(response) and fragment in text_of(response)
    assert accept(client, token).status_code == 302  # nothing was spent


def test_password_rules():
    assert password_problems(STRONG, email="a@b.c", display_name="Lan") == []
    assert password_problems("matkhau12345", email="", display_name="")  # too short
    assert password_problems("Mật khẩu 12345", email="", display_name="")  # common, folded
    assert password_problems("nguyenvanlan-12!", email="x@y.z", display_name="Nguyễn Văn Lan")


@pytest.mark.parametrize("spoil", ["expired", "used", "withdrawn", "unknown"])
def test_an_expired_used_withdrawn_or_unknown_link_gets_a_410_and_creates_nothing(
    app, world, spoil
):
    token = invite(app, world)
    with domain_session(app) as db:
        invitation = db.scalars(select(Invitation)).one()
        now = dt.datetime.now(dt.UTC)
        if spoil == "expired":
            invitation.expires_at = now - dt.timedelta(seconds=1)
        elif spoil == "used":
            invitation.used_at = now
        elif spoil == "withdrawn":
            invitation.revoked_at = now
        db.commit()
    if spoil == "unknown":
        token = token[:-4] + "AAAA"
    client = app.test_client()
    page = client.get(f"/board/invite/{token}")
    assert page.status_code == 410 and "<html" in text_of(page)
    login_page = text_of(client.get("/board/login"))
    response = client.post(
        f"/board/invite/{token}",
        data={"csrf_token": csrf_from(login_page), "password": STRONG, "confirm": STRONG},
    )
    assert response.status_code == 410
    with domain_session(app) as db:
        assert db.scalar(select(Account).where(Account.email == "moi@homthu.test")) is None


def test_a_link_works_once(app, world):
    token = invite(app, world)
    assert accept(app.test_client(), token).status_code == 302
    assert app.test_client().get(f"/board/invite/{token}").status_code == 410


def test_an_email_already_in_use_cannot_be_invited_again(app, world):
    invite(app, world)
    admin = world["admin"]
    client = log_in(app.test_client(), app, admin)
    for email in ("moi@homthu.test", world["cd_handler"].email):
        response = client.post(
            "/admin/staff",
            data={
                "csrf_token": get_csrf(client, "/admin/staff"),
                "email": email,
                "display_name": "X",
                "role": "handler",
                "body": str(world.cd.id),
            },
        )
        assert response.status_code == 400


# --- logging in ----------------------------------------------------------------------------


def test_a_login_needs_the_code_and_a_code_works_only_once(app, world):
    staff = world["cd_handler"]
    code = staff.login_code(app)
    first = post_login(app.test_client(), staff, code=code)
    assert first.status_code == 302
    replay = post_login(app.test_client(), staff, code=code)
    assert replay.status_code == 401
    without = post_login(app.test_client(), staff, code="")
    assert without.status_code == 401


def test_an_older_code_than_the_last_one_accepted_is_refused(app, world, db):
    staff = world["cd_handler"]
    now = dt.datetime.now(dt.UTC)
    account = db.get(Account, staff.account.id)
    step = twofactor.time_step(now)
    assert twofactor.accept_totp(
        account, staff.totp_secret, twofactor.code_at(staff.totp_secret, step), now
    )
    earlier = twofactor.code_at(staff.totp_secret, step - 1)
    assert not twofactor.accept_totp(account, staff.totp_secret, earlier, now)
    later = twofactor.code_at(staff.totp_secret, step + 1)
    assert twofactor.accept_totp(account, staff.totp_secret, later, now)
    assert not twofactor.accept_totp(
        account, staff.totp_secret, twofactor.code_at(staff.totp_secret, step + 3), now
    )


def test_every_kind_of_failure_gets_the_same_message_and_status(app, world):
    staff = world["cd_handler"]
    client = app.test_client()
    failures = {
        "unknown email": post_login(client, staff, email="nobody@homthu.test"),
        "wrong password": post_login(client, staff, password="wrong password 123"),
        "wrong code": post_login(client, staff, code="123456"),
        "malformed code": post_login(client, staff, code="abc"),
    }
    assert {r.status_code for r in failures.values()} == {401}
    messages = {name: failure_message(r) for name, r in failures.items()}
    assert len(set(messages.values())) == 1, messages
    assert all("Retry-After" not in r.headers for r in failures.values())


def test_during_the_wait_the_page_says_how_long_whatever_the_password(app, world):
    staff = world["cd_handler"]
    client = app.test_client()
    with domain_session(app) as db:
        db.get_one(Account, staff.account.id).locked_until = dt.datetime.now(dt.UTC) + dt.timedelta(
            seconds=30
        )
        db.commit()
    waiting = {
        "right password and code": post_login(client, staff, code=staff.login_code(app)),
        "wrong password": post_login(client, staff, password="wrong password 123"),
    }
    assert {r.status_code for r in waiting.values()} == {401}
    messages = {name: failure_message(r) for name, r in waiting.items()}
    for name, message in messages.items():
        wait = re.search(r"chờ (\d+) giây", message)  # Vietnamese: "wait N seconds"
        assert wait and 1 <= int(wait.group(1)) <= 30, (name, message)
        assert waiting[name].headers["Retry-After"] == wait.group(1)
    # Nothing tells a right password from a wrong one (the seconds may tick between the two).
    assert len({re.sub(r"\d+", "N", m) for m in messages.values()}) == 1, messages
    with domain_session(app) as db:
        assert db.get_one(Account, staff.account.id).failed_logins == 2  # both were counted


def test_the_wait_grows_with_each_failure_and_is_capped_at_a_minute():
    assert [delay_after(n) for n in range(4)] == [dt.timedelta(0)] * 4
    assert [delay_after(n).total_seconds() for n in range(4, 10)] == [5, 10, 20, 40, 60, 60]
    assert delay_after(10_000) == LONGEST_DELAY


def _attempt(db, world, staff, password, at, code=""):
    return accounts.log_in(
        db, world.organisation, staff.email, password, code, profile=FAST, policy=POLICY, now=at
    )


def test_many_failures_never_lock_the_account_out(db, world):
    """Fifty wrong passwords, each once the wait is over: the right ones still log in after."""
    staff = world["cd_handler"]
    at = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)
    for _ in range(50):
        with pytest.raises(LoginFailed):
            _attempt(db, world, staff, "wrong", at)
        account = db.get_one(Account, staff.account.id)
        assert account.locked_until is None or account.locked_until - at <= LONGEST_DELAY
        at = account.locked_until or at
    account = db.get_one(Account, staff.account.id)
    assert account.failed_logins == 50
    assert account.locked_until == at  # the last failure's wait: one minute, no more
    code = twofactor.current_code(staff.totp_secret, at)
    result = _attempt(db, world, staff, staff.password, at, code)
    assert result.second_factor == "totp"
    account = db.get_one(Account, staff.account.id)
    assert account.failed_logins == 0 and account.locked_until is None


def test_attempts_during_the_wait_are_counted_and_refused_without_hashing(db, world, monkeypatch):
    staff = world["cd_handler"]
    start = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)
    for attempt in range(4):
        with pytest.raises(LoginFailed):
            _attempt(db, world, staff, "wrong", start + dt.timedelta(seconds=attempt))
    account = db.get_one(Account, staff.account.id)
    assert account.failed_logins == 4
    not_before = start + dt.timedelta(seconds=3 + 5)
    assert account.locked_until == not_before

    hashed: list[str] = []
    real_check, real_unlock = staff_keys.check_password, staff_keys.unlock_private_key

    def check(password: str, password_hash: str) -> bool:
        hashed.append("check")
        return real_check(password, password_hash)

    def unlock(locked: bytes, password: str) -> bytes:
        hashed.append("unlock")
        return real_unlock(locked, password)

    monkeypatch.setattr(staff_keys, "check_password", check)  # the Argon2id of a login
    monkeypatch.setattr(staff_keys, "unlock_private_key", unlock)
    during = start + dt.timedelta(seconds=5)
    right_code = twofactor.current_code(staff.totp_secret, during)
    refusals = []
    for password, code in [(staff.password, right_code), ("wrong", ""), (staff.password, "")]:
        with pytest.raises(LoginFailed) as refused:
            _attempt(db, world, staff, password, during, code)
        refusals.append(refused.value)
    assert hashed == []  # refused before any Argon2id, right password or wrong
    assert {r.retry_after for r in refusals} == {3}
    assert len({str(r.message) for r in refusals}) == 1
    account = db.get_one(Account, staff.account.id)
    assert account.failed_logins == 7  # every attempt during the wait counted ...
    assert account.locked_until == not_before  # ... without moving the end of the wait

    result = _attempt(db, world, staff, staff.password, not_before, right_code)
    assert result.second_factor == "totp"
    assert hashed == ["check", "unlock"]
    account = db.get_one(Account, staff.account.id)
    assert account.failed_logins == 0 and account.locked_until is None
    failed = db.scalars(select(AuditEvent).where(AuditEvent.action == "staff.login_failed")).all()
    assert [json.loads(e.details)["throttled"] for e in failed] == [False] * 4 + [True] * 3


def test_a_failure_after_the_wait_waits_the_longer_delay_its_count_calls_for(db, world):
    staff = world["cd_handler"]
    start = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)
    for _ in range(4):
        with pytest.raises(LoginFailed):
            _attempt(db, world, staff, "wrong", start)
    # Four failures: a 5 s wait; the fifth, once it is over, waits 10 s.
    after = start + dt.timedelta(seconds=5)
    with pytest.raises(LoginFailed) as refused:
        _attempt(db, world, staff, "wrong", after)
    assert refused.value.retry_after == 10
    assert db.get_one(Account, staff.account.id).locked_until == after + dt.timedelta(seconds=10)


def test_a_recovery_code_logs_in_once(app, world):
    staff = world["cd_chair"]
    code = staff.recovery_codes[0]
    response = post_login(app.test_client(), staff, code=code.lower().replace("-", " "))
    assert response.status_code == 302
    again = post_login(app.test_client(), staff, code=code)
    assert again.status_code == 401
    assert post_login(app.test_client(), staff, code=staff.recovery_codes[1]).status_code == 302


def test_a_wrong_password_does_not_spend_a_recovery_code(app, world):
    staff = world["cd_chair"]
    code = staff.recovery_codes[0]
    assert post_login(app.test_client(), staff, password="wrong one!", code=code).status_code == 401
    assert post_login(app.test_client(), staff, code=code).status_code == 302


def test_the_totp_secret_is_sealed_under_secret_key(app, world, db):
    staff = world["cd_handler"]
    account = db.get(Account, staff.account.id)
    assert twofactor.open_secret(account) == staff.totp_secret
    assert staff.totp_secret.encode() not in account.totp_secret_ct
    # The key the application's sessions carry (service/platform/settings.py), changed:
    db.info[SERVER_SECRET_INFO] = "another secret key of sufficient length!"
    assert twofactor.open_secret(account) is None  # so a changed SECRET_KEY means re-enrolling


# --- sessions ------------------------------------------------------------------------------


def test_changing_the_password_ends_every_session_and_keeps_every_case(app, world, staff_client):
    staff = world["cd_handler"]
    other_browser = staff_client(staff)
    browser = staff_client(staff)
    page = text_of(browser.get("/board/password"))
    response = browser.post(
        "/board/password",
        data={
            "csrf_token": csrf_from(page),
            "current": staff.password,
            "password": STRONG,
            "confirm": STRONG,
        },
    )
    assert response.status_code == 302
    assert browser.get("/board/").status_code == 200  # this browser got a new session
    ended = other_browser.get("/board/")
    assert ended.status_code == 401
    assert "mật khẩu mới" in text_of(ended) or "new password" in text_of(ended)
    with domain_session(app) as db:
        account = db.get_one(Account, staff.account.id)
        assert staff_keys.unlock_private_key(account.wrapped_private_key, STRONG) == (
            staff.private_key()
        )
        assert db.scalars(select(StaffSession).where(StaffSession.account_id == account.id)).all()
        notice = db.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient == staff.email)
        ).all()
        assert notice
    staff.password = STRONG
    assert post_login(app.test_client(), staff, code=staff.login_code(app)).status_code == 302


def test_a_wrong_current_password_changes_nothing(app, world, staff_client):
    staff = world["cd_handler"]
    browser = staff_client(staff)
    page = text_of(browser.get("/board/password"))
    response = browser.post(
        "/board/password",
        data={
            "csrf_token": csrf_from(page),
            "current": "not it at all",
            "password": STRONG,
            "confirm": STRONG,
        },
    )
    assert response.status_code == 400
    assert browser.get("/board/").status_code == 200
    assert post_login(app.test_client(), staff, code=staff.login_code(app)).status_code == 302


def test_each_login_makes_a_new_session_id(app, world):
    staff = world["cd_handler"]
    client = app.test_client()
    log_in(client, app, staff)
    first = client.get_cookie(STAFF_COOKIE).value
    log_in(client, app, staff)
    assert client.get_cookie(STAFF_COOKIE).value != first


def test_an_administrator_lands_in_the_admin_area(app, world):
    admin = add_staff(app, world, "admin", Role.ADMIN, None)
    response = post_login(app.test_client(), admin, code=admin.login_code(app))
    assert response.headers["Location"] == "/admin/"


def test_the_demo_totp_command_prints_a_working_code_and_is_refused_in_production(app, monkeypatch):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    result = runner.invoke(args=["demo", "totp", "minh.cd@demo.invalid"])
    assert result.exit_code == 0, result.output
    code = result.output.split()[0]
    with domain_session(app) as db:
        account = db.scalar(select(Account).where(Account.email == "minh.cd@demo.invalid"))
        assert account is not None
        secret = twofactor.open_secret(account)
    assert secret is not None
    assert pyotp.TOTP(secret).verify(code, valid_window=1)
    app.config["HOMTHU_ENV"] = "production"
    refused = runner.invoke(args=["demo", "totp", "minh.cd@demo.invalid"])
    assert refused.exit_code != 0 and code not in refused.output


@pytest.mark.parametrize("role", ["handler", "chair"])
def test_inviting_a_handler_without_a_body_asks_for_the_body_and_keeps_the_form(app, world, role):
    """Issue 11: it used to answer a bare 400 and lose what was typed."""
    admin = world.staff.get("admin") or add_staff(app, world, "admin", Role.ADMIN, None)
    client = log_in(app.test_client(), app, admin)
    response = client.post(
        "/admin/staff",
        data={
            "csrf_token": get_csrf(client, "/admin/staff"),
            "email": "chua.chon@homthu.test",
            "display_name": "Chưa Chọn Ban",
            "role": role,
            "body": "",
        },
    )
    html = text_of(response)
    assert response.status_code == 400
    assert "Chọn tổ chức (Công đoàn hoặc Ban Thanh tra nhân dân)" in html  # "choose the body"
    assert 'value="chua.chon@homthu.test"' in html and "Chưa Chọn Ban" in html
    with domain_session(app) as db:
        assert (
            db.scalars(
                select(OutboxMessage).where(OutboxMessage.recipient == "chua.chon@homthu.test")
            ).all()
            == []
        )
