"""The handlers' pages, through HTTP with real CSRF tokens."""

from __future__ import annotations

import re

import pytest

from service.people.sessions import STAFF_COOKIE
from tests.conftest import csrf_from, found, get_csrf
from tests.flows import file_report


def text_of(response) -> str:
    return response.get_data(as_text=True)


def case_ids(html: str) -> list[str]:
    return re.findall(r'href="/board/cases/([0-9a-f]{32})"', html)


@pytest.fixture
def filed(app, world):
    """One report to the Trade Union with an attachment, filed through the form."""
    reporter = app.test_client()
    _, receipt = file_report(
        reporter, title="Ghế hỏng", text="Phòng 204", files=[("bang-chung.txt", b"evidence")]
    )
    return reporter, receipt


def test_login_sets_a_strict_httponly_session_cookie(client, world):
    token = get_csrf(client, "/board/login")
    staff = world["cd_handler"]
    response = client.post(
        "/board/login",
        data={
            "csrf_token": token,
            "email": staff.email,
            "password": staff.password,
            "code": staff.code(),
        },
    )
    assert response.status_code == 302
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(STAFF_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


@pytest.mark.parametrize("email", ["cd_handler@homthu.test", "nobody@homthu.test"])
def test_a_wrong_password_and_an_unknown_email_get_the_same_401(client, world, email):
    token = get_csrf(client, "/board/login")
    response = client.post(
        "/board/login", data={"csrf_token": token, "email": email, "password": "wrong"}
    )
    assert response.status_code == 401
    assert found(r'role="alert"><p>(.*?)</p>', text_of(response)).group(1)
    assert "wrong" not in text_of(response)


def test_the_list_shows_the_bodys_cases_as_metadata_only(filed, staff_client, world):
    html = text_of(staff_client(world["cd_handler"]).get("/board/"))
    assert len(case_ids(html)) == 1 and re.search(r"CD-\d{4}-0001", html)
    assert "Ghế hỏng" not in html and "Phòng 204" not in html


def test_the_other_body_neither_lists_nor_opens_the_case(filed, staff_client, world):
    mine = staff_client(world["cd_handler"])
    (case_id,) = case_ids(text_of(mine.get("/board/")))
    other = staff_client(world["ttnd_chair"])
    assert case_ids(text_of(other.get("/board/"))) == []
    assert other.get(f"/board/cases/{case_id}").status_code == 404


def test_a_handler_reads_the_case_downloads_the_file_and_replies(filed, staff_client, world):
    reporter, receipt = filed
    staff = staff_client(world["cd_handler"])
    (case_id,) = case_ids(text_of(staff.get("/board/")))
    page = staff.get(f"/board/cases/{case_id}")
    html = text_of(page)
    assert page.status_code == 200 and "Ghế hỏng" in html and "Phòng 204" in html
    (file_url,) = re.findall(r'href="(/board/cases/[0-9a-f]{32}/files/[0-9a-f]{32})"', html)
    download = staff.get(file_url)
    assert download.data == b"evidence"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.mimetype == "application/octet-stream"
    reply = staff.post(
        f"/board/cases/{case_id}/reply",
        data={"csrf_token": csrf_from(html), "text": "Sẽ thay ghế tuần này"},
    )
    assert reply.status_code == 302
    from tests.flows import follow_up

    follow_up(reporter, receipt)
    assert "Sẽ thay ghế tuần này" in text_of(reporter.get("/follow-up/case"))


def test_an_empty_reply_is_refused_with_a_message(filed, staff_client, world):
    staff = staff_client(world["cd_handler"])
    (case_id,) = case_ids(text_of(staff.get("/board/")))
    html = text_of(staff.get(f"/board/cases/{case_id}"))
    response = staff.post(
        f"/board/cases/{case_id}/reply", data={"csrf_token": csrf_from(html), "text": ""}
    )
    assert response.status_code == 400 and 'class="field-errors"' in text_of(response)


def test_board_pages_need_a_login(client, world):
    for path in ("/board/", "/board/cases/" + "a" * 32):
        response = client.get(path)
        assert response.status_code == 401
        assert 'name="password"' in text_of(response)


def test_an_expired_session_asks_to_log_in_again(app, staff_client, world):
    staff = staff_client(world["cd_handler"])
    app.config["STAFF_IDLE_MINUTES"] = 0
    response = staff.get("/board/")
    assert response.status_code == 401 and 'name="password"' in text_of(response)


def test_logout_is_a_post_and_ends_the_session(staff_client, world):
    staff = staff_client(world["cd_handler"])
    assert staff.get("/board/logout").status_code == 405
    html = text_of(staff.get("/board/"))
    assert staff.post("/board/logout", data={"csrf_token": csrf_from(html)}).status_code == 302
    assert staff.get("/board/").status_code == 401


def test_the_staff_cookie_alone_without_the_database_row_opens_nothing(app, staff_client, world):
    staff = staff_client(world["cd_handler"])
    from sqlalchemy import delete

    from service.models import StaffSession
    from service.platform.db import get_database

    with get_database(app).session() as session:
        session.execute(delete(StaffSession))
        session.commit()
    assert staff.get("/board/").status_code == 401


def test_staff_and_public_pages_use_different_cookies(client, staff_client, world):
    client.get("/report/write?kind=problem&identity=anonymous&body=auto")
    public_cookies = {c.key for c in client._cookies.values()}
    staff = staff_client(world["cd_handler"])
    staff.get("/board/")
    staff_cookies = {c.key for c in staff._cookies.values()}
    assert "homthu_public" in public_cookies and "homthu_public" not in staff_cookies
    assert {"homthu_staff", "homthu_staff_form"} <= staff_cookies
