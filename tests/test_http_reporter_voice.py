"""The reporter's side of handling, over HTTP: routing choices, due date, voice, results."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from service.admin.organisations import create_body
from service.cases.lifecycle import set_status
from service.models import BodyKind, Case, CaseStatus, Category
from tests.conftest import csrf_from, domain_session
from tests.flows import file_report, follow_up

pytestmark = pytest.mark.usefixtures("world")


def text_of(response) -> str:
    return response.get_data(as_text=True)


def english(client):
    client.set_cookie("homthu_lang", "en")
    return client


def only_case(app) -> Case:
    with domain_session(app) as db:
        (case,) = db.query(Case).all()
        db.expunge(case)
        return case


def decide(app, status=CaseStatus.RESOLVED, days_ago: int = 0) -> None:
    with domain_session(app) as db:
        (case,) = db.query(Case).all()
        case.acknowledged_on = case.accepted_on = case.received_on
        case.decided_on = case.received_on - dt.timedelta(days=days_ago)
        set_status(db, case, status)
        db.commit()


def test_step_one_offers_the_categories_and_the_head_of_unit_checkbox(app, client, world):
    html = text_of(english(client).get("/report"))
    assert 'name="concerns_head"' in html and 'name="category"' in html
    assert "Working conditions" in html


def test_the_category_and_the_head_of_unit_flag_reach_the_case(app, client, world):
    with domain_session(app) as db:
        category = db.query(Category).filter_by(code="finance-assets").one().id
    _, receipt = file_report(client, category=str(category), concerns_head="y")
    assert receipt
    case = only_case(app)
    assert (case.category_id, case.concerns_head_of_unit) == (category, True)


def test_a_case_about_the_head_cannot_be_addressed_to_the_head(app, client, world):
    with domain_session(app) as db:
        head = create_body(
            db,
            world.organisation,
            code="TTDV",
            kind=BodyKind.HEAD_OF_UNIT,
            name_vi="Thủ trưởng đơn vị",
            name_en="Head of unit",
        ).body.id
    step1 = english(client).get(
        f"/report?kind=problem&identity=anonymous&body={head}&concerns_head=y"
    )
    assert step1.status_code == 400 and "cannot be sent to the head" in text_of(step1)
    response, receipt = file_report(client, body=str(head), concerns_head="y")
    assert response.status_code == 400 and receipt is None
    assert file_report(client, body=str(head))[1]  # not about the head: fine


def test_the_receipt_says_when_everyone_at_the_chosen_body_was_excluded(app, client, world):
    everyone = [str(world[n].account.id) for n in ("cd_chair", "cd_handler")]
    response, receipt = file_report(english(client), body=str(world.cd.id), exclude=everyone)
    assert receipt and 'data-testid="rerouted"' in text_of(response)
    assert "People&#39;s Inspection Board" in text_of(response) or "Inspection" in text_of(response)
    assert only_case(app).body_id == world.ttnd.id


def test_the_follow_up_page_shows_the_status_and_the_answer_due_date(app, client, world):
    _, receipt = file_report(english(client))
    follow_up(client, receipt)
    html = text_of(client.get("/follow-up/case"))
    next_due = only_case(app).next_due
    assert next_due is not None
    due = next_due.strftime("%d/%m/%Y")
    assert re.search(rf'data-testid="next-due">{due}<', html)
    with domain_session(app) as db:
        (case,) = db.query(Case).all()
        set_status(db, case, CaseStatus.TRANSFERRED)
        db.commit()
    html = text_of(client.get("/follow-up/case"))
    assert 'data-testid="status">Transferred<' in html


def test_the_reporter_rates_asks_to_reopen_and_flags_retaliation(app, client, world):
    _, receipt = file_report(english(client))
    follow_up(client, receipt)
    page = text_of(client.get("/follow-up/case"))
    assert 'action="/follow-up/case/rate"' not in page  # nothing to rate before a decision
    assert 'action="/follow-up/case/retaliation"' in page  # retaliation can come at any time
    decide(app)
    page = text_of(client.get("/follow-up/case"))
    token = csrf_from(page)
    assert client.post("/follow-up/case/rate", data={"csrf_token": token}).status_code == 400
    rated = client.post("/follow-up/case/rate", data={"csrf_token": token, "rating": "5"})
    assert rated.status_code == 302
    assert "your rating was recorded" in text_of(client.get(rated.headers["Location"]))
    again = client.post("/follow-up/case/rate", data={"csrf_token": token, "rating": "1"})
    assert "already been done" in text_of(client.get(again.headers["Location"]))
    assert only_case(app).rating == 5

    reopened = client.post(
        "/follow-up/case/reopen", data={"csrf_token": token, "text": "Vẫn chưa sửa"}
    )
    assert reopened.status_code == 302
    page = text_of(client.get(reopened.headers["Location"]))
    assert 'data-testid="status">In progress<' in page and "Vẫn chưa sửa" in page

    flagged = client.post("/follow-up/case/retaliation", data={"csrf_token": token, "text": ""})
    assert flagged.status_code == 302 and only_case(app).priority == "high"


def test_reopening_after_the_window_is_refused_with_a_409_page(app, client, world):
    _, receipt = file_report(english(client))
    follow_up(client, receipt)
    decide(app, CaseStatus.CLOSED, days_ago=31)  # the default window is 30 days
    token = csrf_from(text_of(client.get("/follow-up/case")))
    response = client.post("/follow-up/case/reopen", data={"csrf_token": token})
    assert response.status_code == 409 and "has passed" in text_of(response)
    assert only_case(app).status == CaseStatus.CLOSED


def test_the_results_page_is_public_and_empty_at_first(client):
    response = english(client).get("/results")
    assert response.status_code == 200 and "Nothing has been published yet." in text_of(response)
    assert "<script" not in text_of(response)
