"""Bad input gets a clear page in the user's language and a 4xx: never a 500, never a trace."""

from __future__ import annotations

import io

import pytest

from tests.conftest import csrf_from, form_token_from
from tests.flows import file_report, open_report_form

pytestmark = pytest.mark.usefixtures("world")


def text_of(response) -> str:
    return response.get_data(as_text=True)


def assert_clean_error(response, status: int) -> str:
    html = text_of(response)
    assert response.status_code == status
    assert "Traceback" not in html and "sqlalchemy" not in html.lower()
    assert '<html lang="' in html  # a whole page of ours, not a bare server message
    return html


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("post", "/report/write", {"kind": "problem", "identity": "anonymous", "body": "auto"}),
        ("post", "/follow-up", {"receipt": "1234 5678 9012 3456"}),
        ("post", "/follow-up/end", {}),
        ("post", "/board/login", {"email": "a@b.c", "password": "x"}),
    ],
)
def test_a_form_without_its_csrf_token_gets_a_400_with_a_way_back(client, method, path, data):
    response = getattr(client, method)(path, data=data, headers={"Referer": "http://localhost/"})
    html = assert_clean_error(response, 400)
    assert 'class="button" href="http://localhost/"' in html or 'href="/"' in html


def test_a_forged_or_expired_csrf_token_gets_the_same_400(client):
    open_report_form(client)
    response = client.post(
        "/follow-up", data={"csrf_token": "IjEyMyI.forged.token", "receipt": "1"}
    )
    assert_clean_error(response, 400)


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_an_oversized_file_gets_a_413_page_in_the_users_language(client, app, locale):
    app.config["MAX_ATTACHMENT_BYTES"] = 100_000
    client.get(f"/lang/{locale}")
    page = open_report_form(client)
    token = csrf_from(text_of(page))
    response = client.post(
        "/report/write",
        data={
            "csrf_token": token,
            "form_token": form_token_from(text_of(page)),
            "kind": "problem",
            "identity": "anonymous",
            "body": "auto",
            "title": "t",
            "text": "x",
            "attachments": [(io.BytesIO(b"x" * 100_001), "big.bin")],
        },
        content_type="multipart/form-data",
    )
    html = assert_clean_error(response, 413)
    assert f'<html lang="{locale}">' in html
    assert "MB" in html


def test_a_request_larger_than_everything_allowed_gets_a_413(client, app):
    app.config["MAX_CONTENT_LENGTH"] = 50_000
    response = client.post(
        "/report/write",
        data={"attachments": [(io.BytesIO(b"x" * 60_000), "big.bin")]},
        content_type="multipart/form-data",
    )
    assert_clean_error(response, 413)


def test_a_file_exactly_at_the_limit_is_accepted(client, app):
    app.config["MAX_ATTACHMENT_BYTES"] = 100_000
    response, receipt = file_report(client, files=[("ok.bin", b"y" * 100_000)])
    assert response.status_code == 200 and receipt


@pytest.mark.parametrize(
    "path",
    [
        "/board/cases/not-a-case-id",
        "/board/cases/" + "0" * 32,
        "/board/cases/" + "A" * 32,
        "/board/cases/%00%ff",
        "/board/cases/" + "0" * 32 + "/files/" + "1" * 32,
        "/board/cases/" + "0" * 32 + "/files/../../etc/passwd",
        "/no/such/page",
    ],
)
def test_unknown_or_malformed_ids_get_a_404(staff_client, world, path):
    staff = staff_client(world["cd_handler"])
    assert_clean_error(staff.get(path), 404)


def test_a_wrong_method_gets_a_405_page(client):
    assert_clean_error(client.delete("/report/write"), 405)
    assert_clean_error(client.post("/"), 405)


def test_a_reply_to_a_case_of_another_body_is_a_404_not_a_500(client, staff_client, world):
    file_report(client)
    cd = staff_client(world["cd_handler"])
    html = text_of(cd.get("/board/"))
    import re

    (case_id,) = re.findall(r"/board/cases/([0-9a-f]{32})", html)
    other = staff_client(world["ttnd_handler"])
    token = csrf_from(text_of(other.get("/board/")))
    response = other.post(f"/board/cases/{case_id}/reply", data={"csrf_token": token, "text": "x"})
    assert_clean_error(response, 404)


def test_a_reporter_page_without_a_session_asks_for_the_receipt(client):
    response = client.get("/follow-up/case")
    html = assert_clean_error(response, 401)
    assert 'name="receipt"' in html
    token = csrf_from(text_of(client.get("/follow-up")))
    assert client.post("/follow-up/case/message", data={"csrf_token": token}).status_code == 401


def test_a_garbage_follow_up_cookie_is_treated_as_no_session(client):
    client.set_cookie("homthu_followup", "garbage.value", path="/follow-up")
    assert_clean_error(client.get("/follow-up/case"), 401)
    client.set_cookie("homthu_followup", "x" * 4000, path="/follow-up")
    assert_clean_error(client.get("/follow-up/case"), 401)


def test_a_garbage_staff_cookie_is_treated_as_no_session(client):
    client.set_cookie("homthu_staff", "%%%.!!!")
    assert_clean_error(client.get("/board/"), 401)


def test_a_language_switch_never_redirects_off_site(client):
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.get("/lang/en", query_string={"next": target})
        assert response.status_code == 302 and response.headers["Location"] == "/"
