"""The reporter's pages, through HTTP with real CSRF tokens."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from service.cases.intake import PendingReceipt
from service.people.sessions import REPORTER_COOKIE
from service.sealing import receipts
from service.web import public
from tests.conftest import csrf_from, found
from tests.flows import file_report, follow_up, open_report_form

pytestmark = pytest.mark.usefixtures("world")


def text_of(response) -> str:
    return response.get_data(as_text=True)


def test_the_landing_page_says_what_is_protected_and_what_is_not(client):
    page = client.get("/")
    assert page.status_code == 200
    html = text_of(page)
    assert 'class="card protected"' in html and 'class="card unprotected"' in html


@pytest.mark.parametrize(
    "path",
    ["/", "/report", "/report/write?kind=problem&identity=anonymous&body=auto", "/follow-up"],
)
def test_reporter_pages_load_nothing_from_another_host_and_run_no_script(client, path):
    response = client.get(path)
    html = text_of(response)
    assert "<script" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'none'" in policy
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_filing_shows_the_receipt_once_grouped_for_reading(client):
    response, receipt = file_report(client, title="Đèn hành lang", text="Tầng 3 tối")
    assert response.status_code == 200
    assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", receipt)
    html = text_of(response)
    assert "data:text/plain;charset=utf-8," in html  # saving sends nothing back to the server
    assert response.headers["Cache-Control"] == "no-store"


def test_the_reporter_follows_up_with_the_receipt_and_reads_the_report(client):
    _, receipt = file_report(client, title="Đèn hành lang", text="Tầng 3 tối")
    response = follow_up(client, receipt)
    assert response.status_code == 302 and response.headers["Location"] == "/follow-up/case"
    page = client.get("/follow-up/case")
    assert page.status_code == 200 and "Tầng 3 tối" in text_of(page)


def test_the_receipt_is_accepted_with_or_without_spaces_and_dashes(client, app):
    _, receipt = file_report(client)
    for variant in (receipt.replace(" ", ""), receipt.replace(" ", "-"), f"  {receipt} "):
        assert follow_up(app.test_client(), variant).status_code == 302


def test_the_follow_up_cookie_is_httponly_strict_and_scoped(client):
    _, receipt = file_report(client)
    response = follow_up(client, receipt)
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if REPORTER_COOKIE in h)
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/follow-up" in cookie
    assert receipt.replace(" ", "") not in cookie


@pytest.mark.parametrize(
    "entered", ["1111 2222 3333 4444", "987", "abcxyz", "7777 8888 9999 0000 1"]
)
def test_a_wrong_or_malformed_receipt_gets_one_generic_403_and_is_not_echoed(client, entered):
    file_report(client)
    response = follow_up(client, entered)
    assert response.status_code == 403
    html = text_of(response)
    assert entered not in html
    generic = follow_up(client, "9999 9999 9999 9999")
    # The same message whatever was wrong: nothing says whether a case exists.
    assert _alert(html) == _alert(text_of(generic))


def _alert(html: str) -> str:
    return found(r'role="alert"><p>(.*?)</p>', html, re.S).group(1)


def test_the_reporter_adds_a_message_with_a_file(client):
    _, receipt = file_report(client)
    follow_up(client, receipt)
    page = client.get("/follow-up/case")
    response = client.post(
        "/follow-up/case/message",
        data={
            "csrf_token": csrf_from(text_of(page)),
            "text": "Thêm chi tiết",
            "attachments": [(__import__("io").BytesIO(b"more"), "them.txt")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    html = text_of(client.get("/follow-up/case?sent=1"))
    assert "Thêm chi tiết" in html and "them.txt" in html


def test_closing_the_session_forgets_it(client):
    _, receipt = file_report(client)
    follow_up(client, receipt)
    page = client.get("/follow-up/case")
    response = client.post("/follow-up/end", data={"csrf_token": csrf_from(text_of(page))})
    assert response.status_code == 302
    assert client.get("/follow-up/case").status_code == 401


def test_an_expired_follow_up_session_asks_for_the_receipt_again(client, app):
    app.config["REPORTER_IDLE_MINUTES"] = 0
    _, receipt = file_report(client)
    follow_up(client, receipt)
    response = client.get("/follow-up/case")
    assert response.status_code == 401
    assert 'name="receipt"' in text_of(response)


def test_anonymous_complaints_explain_the_information_track_and_need_consent(client):
    form = open_report_form(client, kind="complaint", identity="anonymous")
    assert 'name="understood_information"' in text_of(form)
    response, receipt = file_report(client, kind="complaint", understood_information="")
    assert response.status_code == 400 and receipt is None
    assert 'name="understood_information"' in text_of(response)
    response, receipt = file_report(client, kind="complaint")
    assert response.status_code == 200 and receipt


def test_the_information_notice_is_not_shown_where_it_does_not_apply(client):
    for kind, identity in (("complaint", "named"), ("problem", "anonymous")):
        html = text_of(open_report_form(client, kind=kind, identity=identity))
        assert 'name="understood_information"' not in html


def test_a_named_report_requires_a_name_and_a_contact_and_keeps_what_was_typed(client):
    response, receipt = file_report(
        client, identity="named", name="", contact="", title="Giữ lại", text="Văn bản giữ lại"
    )
    assert response.status_code == 400 and receipt is None
    html = text_of(response)
    assert "Giữ lại" in html and "Văn bản giữ lại" in html
    assert html.count('class="field-errors"') == 2


def test_a_missing_title_is_refused_with_the_text_kept(client):
    response, receipt = file_report(client, title="", text="Đừng mất chữ")
    assert response.status_code == 400 and receipt is None
    assert "Đừng mất chữ" in text_of(response)


def test_more_files_than_allowed_are_refused(client, app):
    app.config["MAX_ATTACHMENTS"] = 2
    files = [(f"f{i}.txt", b"x") for i in range(3)]
    response, receipt = file_report(client, files=files)
    assert response.status_code == 400 and receipt is None


def test_step_two_without_step_one_goes_back_to_step_one(client):
    response = client.get("/report/write?kind=nonsense")
    assert response.status_code == 302 and response.headers["Location"].startswith("/report")


def test_tampered_choices_in_step_two_are_refused(client):
    response, receipt = file_report(client, body="424242")
    assert response.status_code == 400 and receipt is None


@pytest.fixture
def derivations(monkeypatch) -> list[str]:
    """The receipts derived while the test runs (counted where the service calls Argon2id)."""
    calls: list[str] = []
    original = receipts.derive_reporter_keys

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(receipts, "derive_reporter_keys", counting)
    return calls


def _filing_fields(**fields: str) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": "problem", "identity": "anonymous", "body": "auto"}
    data.update(title="Tiêu đề", text="Nội dung", attachments=[], **fields)
    return data


@pytest.mark.parametrize("sender", ["no cookie, no token", "a token without its cookie", "wrong"])
def test_a_filing_without_a_valid_csrf_token_costs_no_derivation(app, derivations, sender):
    """Argon2id is the whole cost of a filing: a forged or cookieless POST must not start it."""
    other = app.test_client()
    token = csrf_from(open_report_form(other).get_data(as_text=True))
    client = app.test_client()
    fields = {
        "no cookie, no token": {},
        "a token without its cookie": {"csrf_token": token},  # signed, but not this session's
        "wrong": {"csrf_token": "not-a-token"},
    }[sender]
    if sender == "wrong":
        open_report_form(client)  # this client has a session cookie
    response = client.post(
        "/report/write", data=_filing_fields(**fields), content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert "Biểu mẫu đã hết hạn" in text_of(response)  # the CSRF page, in Vietnamese
    # A derivation would have been running by now: PendingReceipt waits for its thread to start.
    time.sleep(0.1)
    assert derivations == []


def test_a_valid_filing_costs_exactly_one_derivation_started_ahead_of_the_view(
    client, derivations, monkeypatch
):
    started: list[object] = []

    class Spy(PendingReceipt):
        def __init__(self, *args, **kwargs) -> None:
            started.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(public, "PendingReceipt", Spy)  # what the before_request starts
    response, receipt = file_report(client)
    assert response.status_code == 200 and receipt
    assert len(derivations) == 1
    assert len(started) == 1  # the overlap is kept: the view's filing used the early one
