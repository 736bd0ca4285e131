"""One filing per report form: a reload, a double click or a replay of the form files nothing more.

The second answer is a 409 page, in the reporter's language, that says the report was already
sent and never shows the receipt again (service/web/once.py).
"""

from __future__ import annotations

import datetime as dt
import io
import threading
import time

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

import service.web.public
from service.cases.intake import purge_spent_form_tokens, spend_form_token
from service.models import Case, OutboxMessage, SpentFormToken
from service.platform.clock import local_today
from service.web.once import issue_form_token, read_form_token
from tests.conftest import csrf_from, domain_session, form_token_from
from tests.flows import RECEIPT, open_report_form

pytestmark = pytest.mark.usefixtures("world")

ALREADY_SENT_VI = "Đơn này đã được gửi rồi"


def report_form(client: FlaskClient) -> dict:
    """The fields a browser sends for one report form (files are added per sending)."""
    html = open_report_form(client).get_data(as_text=True)
    return {
        "csrf_token": csrf_from(html),
        "form_token": form_token_from(html),
        "kind": "problem",
        "identity": "anonymous",
        "body": "auto",
        "title": "Máy lạnh hỏng",
        "text": "Máy lạnh phòng họp hỏng từ tuần trước.",
    }


def send(client: FlaskClient, fields: dict):
    data = {**fields, "attachments": [(io.BytesIO(b"%PDF-1.4 x"), "a.pdf")]}
    return client.post("/report/write", data=data, content_type="multipart/form-data")


def counts(app: Flask) -> tuple[int, int, int]:
    """Cases, queued mails and spent form tokens."""
    with domain_session(app) as db:
        return tuple(  # type: ignore[return-value]
            db.scalar(select(func.count()).select_from(model))
            for model in (Case, OutboxMessage, SpentFormToken)
        )


def test_the_same_form_sent_twice_files_one_case_and_never_shows_the_receipt_again(app, client):
    before = counts(app)
    fields = report_form(client)
    first = send(client, fields)
    assert first.status_code == 200 and RECEIPT.search(first.get_data(as_text=True))
    after_first = counts(app)
    assert after_first[0] == before[0] + 1 and after_first[2] == before[2] + 1

    again = send(client, fields)  # what the browser does when the receipt page is reloaded
    html = again.get_data(as_text=True)
    assert again.status_code == 409
    assert '<html lang="vi">' in html and ALREADY_SENT_VI in html
    assert 'data-testid="receipt"' not in html and not RECEIPT.search(html)
    assert counts(app) == after_first  # no case, no mail, nothing more


def test_two_forms_from_one_browser_each_file_once(app, client):
    """Two tabs: each form has a token of its own, so both reports are filed."""
    before = counts(app)
    one, two = report_form(client), report_form(client)
    assert one["form_token"] != two["form_token"]
    assert send(client, one).status_code == 200
    assert send(client, two).status_code == 200
    assert counts(app)[0] == before[0] + 2


def test_a_double_click_sent_at_the_same_moment_files_one_case(app, client, monkeypatch):
    """Both sendings race; the first holds its filing open before committing, so the second
    spends the token while the first's row is uncommitted (on PostgreSQL it waits for it; on
    SQLite for the write lock): one files, the other is told."""
    real = service.web.public.submit_case

    def slow_to_commit(*args, **kwargs):
        filed = real(*args, **kwargs)
        time.sleep(0.5)
        return filed

    monkeypatch.setattr(service.web.public, "submit_case", slow_to_commit)
    before = counts(app)
    fields = report_form(client)
    other = app.test_client()
    cookie = client.get_cookie("homthu_public")
    assert cookie is not None
    other.set_cookie("homthu_public", cookie.value)
    start = threading.Barrier(2)
    answers: list[tuple[int, str]] = []

    def click(browser: FlaskClient) -> None:
        start.wait()
        response = send(browser, fields)
        answers.append((response.status_code, response.get_data(as_text=True)))

    threads = [threading.Thread(target=click, args=(browser,)) for browser in (client, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(status for status, _html in answers) == [200, 409], answers
    assert sum(bool(RECEIPT.search(html)) for _status, html in answers) == 1
    assert counts(app)[0] == before[0] + 1


def test_a_filing_that_fails_leaves_its_form_unspent(app, client, monkeypatch):
    """The token is spent in the filing's transaction: a crash after both were written keeps
    neither, and sending the form again files it once."""
    real = service.web.public.submit_case

    def crash_after_writing(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("the process died before the commit")

    before = counts(app)
    fields = report_form(client)
    monkeypatch.setattr(service.web.public, "submit_case", crash_after_writing)
    assert send(client, fields).status_code == 500
    assert counts(app) == before
    monkeypatch.setattr(service.web.public, "submit_case", real)
    again = send(client, fields)
    assert again.status_code == 200 and RECEIPT.search(again.get_data(as_text=True))
    assert counts(app)[0] == before[0] + 1


@pytest.mark.parametrize("token", ["", "forged", "old"])
def test_a_missing_forged_or_old_token_offers_the_form_again_and_files_nothing(app, client, token):
    fields = report_form(client)
    if token == "old":
        with app.app_context():
            token = issue_form_token(local_today() - dt.timedelta(days=2))
    before = counts(app)
    response = send(client, {**fields, "form_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Biểu mẫu này đã mở quá lâu" in html
    assert "Máy lạnh phòng họp hỏng từ tuần trước." in html  # what was written is kept
    fresh = form_token_from(html)
    assert fresh != token
    assert counts(app) == before
    assert send(client, {**fields, "form_token": fresh}).status_code == 200


def test_a_spent_token_is_stored_as_a_keyed_hash_with_a_purge_day_only(app, client):
    fields = report_form(client)
    assert send(client, fields).status_code == 200
    assert set(SpentFormToken.__table__.columns.keys()) == {"id", "purge_after"}
    with domain_session(app) as db:
        rows = db.scalars(select(SpentFormToken)).all()
        token = read_form_token(fields["form_token"])
    assert token is not None
    assert [(row.id, row.purge_after) for row in rows] == [(token.digest, token.purge_after)]
    assert token.purge_after == local_today() + dt.timedelta(days=2)
    assert fields["form_token"] not in token.digest and len(token.digest) == 64


def test_spent_tokens_are_purged_after_their_day_with_the_sessions(app):
    today = local_today()
    with domain_session(app) as db:
        assert spend_form_token(db, "a" * 64, today - dt.timedelta(days=1))
        assert spend_form_token(db, "b" * 64, today)
        assert not spend_form_token(db, "b" * 64, today)
    result = app.test_cli_runner().invoke(args=["sessions", "purge"])
    assert result.exit_code == 0, result.output
    assert "Forgot 1 report form(s)" in result.output
    with domain_session(app) as db:
        assert db.scalars(select(SpentFormToken.id)).all() == ["b" * 64]
        assert purge_spent_form_tokens(db, today + dt.timedelta(days=1)) == 1
