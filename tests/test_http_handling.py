"""Handling a case through the board's pages: every transition × status × role, over HTTP.

The expected answer of each combination is written out here from the design (not read from the
code's table): a change redirects back to the case and says it is done; repeating it (a second
tab, the back button) redirects and says it had been done already, changing nothing; the wrong
status gets the 409 page, the wrong role the 403 page, a case of another body the 404 page.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re

import pytest

from service.cases.intake import Identity, Submission, submit_case
from service.cases.lifecycle import set_status
from service.models import Case, CaseKind, CaseStatus, Role
from tests.conftest import Staff, add_staff, csrf_from, domain_session, found, get_csrf
from tests.flows import file_report, follow_up

S = CaseStatus
HANDLER_ROLES = {"handler", "chair"}
# action → (from statuses, to status, roles): DESIGN.md's state machine.
EXPECTED = {
    "acknowledge": ({S.NEW, S.TRANSFERRED}, S.ACKNOWLEDGED, HANDLER_ROLES),
    "accept": ({S.ACKNOWLEDGED}, S.IN_PROGRESS, HANDLER_ROLES),
    "decline": ({S.NEW, S.TRANSFERRED, S.ACKNOWLEDGED}, S.NOT_ACCEPTED, {"chair"}),
    "resolve": ({S.IN_PROGRESS}, S.RESOLVED, HANDLER_ROLES),
    "close": ({S.RESOLVED, S.NOT_ACCEPTED}, S.CLOSED, {"chair"}),
    "reopen": ({S.RESOLVED, S.NOT_ACCEPTED, S.CLOSED}, S.IN_PROGRESS, {"chair"}),
}
ROLES = ("handler", "chair", "other_body", "admin")
STAFF_FOR_ROLE = {"handler": "cd_handler", "chair": "cd_chair", "other_body": "ttnd_chair"}
ALREADY = "This had already been done; nothing changed."
NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)


def text_of(response) -> str:
    return response.get_data(as_text=True)


def case_in(app, world, status: CaseStatus, **fields) -> Case:
    """A Trade Union case put straight into `status` (dates as that status implies)."""
    with domain_session(app) as db:
        submission = Submission(kind=CaseKind.PROBLEM, title="t", text="x", **fields)
        case = submit_case(db, world.organisation, submission, now=NOW).case
        today = NOW.date()
        if status not in (S.NEW, S.TRANSFERRED):
            case.acknowledged_on = today
        if status in (S.IN_PROGRESS, S.RESOLVED, S.NOT_ACCEPTED, S.CLOSED):
            case.accepted_on = today
        if status in (S.RESOLVED, S.NOT_ACCEPTED, S.CLOSED):
            case.decided_on = today
        if status == S.IN_PROGRESS:
            case.resolve_due = dt.date(2026, 12, 18)
        set_status(db, case, status)
        db.commit()
        return case


def status_of(app, case_id: str) -> str:
    with domain_session(app) as db:
        return db.get_one(Case, case_id).status


@pytest.fixture
def admin(app, world) -> Staff:
    return add_staff(app, world, "admin", Role.ADMIN, None)


@pytest.fixture
def client_for(staff_client, world, admin):
    def login(role: str):
        client = staff_client(admin if role == "admin" else world[STAFF_FOR_ROLE[role]])
        client.set_cookie("homthu_lang", "en")
        return client

    return login


def expected_answer(action: str, status: CaseStatus, role: str) -> int:
    sources, target, roles = EXPECTED[action]
    if role == "admin":
        return 403
    if role == "other_body":
        return 404
    if role not in roles:
        return 403
    if status in sources or status == target:
        return 302
    return 409


def what_is_wrong(app, world, client_for, action: str, status: CaseStatus, role: str) -> list[str]:
    """Post `action` on a fresh case in `status` as a fresh login in `role`; what differs from
    the design (nothing: an empty list)."""
    target = EXPECTED[action][1]
    case = case_in(app, world, status)
    client = client_for(role)
    response = client.post(
        f"/board/cases/{case.id}/do/{action}",
        data={"csrf_token": get_csrf(client, "/board/login"), "text": "Lý do, kết quả"},
    )
    after = status_of(app, case.id)
    expected = expected_answer(action, status, role)
    if response.status_code != expected:
        return [f"answered {response.status_code}, expected {expected}: {text_of(response)}"]
    if expected != 302:
        wrong = [] if after == status else [f"the status became {after}"]
        if 'class="status-code"' not in text_of(response):  # an error page, never a traceback
            wrong.append("the answer is not the error page")
        return wrong
    if after != target:
        return [f"the status became {after}, expected {target}"]
    page = text_of(client.get(response.headers["Location"]))
    if (ALREADY in page) != (status == target):
        return [f"the page says 'already done': {ALREADY in page}"]
    return []


# One test per action, each status × role on a case of its own in one database: the same
# checks as one test per combination, without setting a database up 168 times per backend.
@pytest.mark.parametrize("action", EXPECTED)
def test_every_transition_status_and_role_over_http(app, world, client_for, action):
    wrong = [
        f"{action} on {status} as {role}: {problem}"
        for status, role in itertools.product(CaseStatus, ROLES)
        for problem in what_is_wrong(app, world, client_for, action, status, role)
    ]
    assert not wrong, "\n".join(wrong)


def test_an_unknown_action_is_not_found(app, world, staff_client):
    case = case_in(app, world, S.NEW)
    client = staff_client(world["cd_chair"])
    response = client.post(
        f"/board/cases/{case.id}/do/transfer", data={"csrf_token": get_csrf(client, "/board/")}
    )
    assert response.status_code == 404


def test_a_decision_without_reasons_is_refused_with_the_form(app, world, staff_client):
    case = case_in(app, world, S.IN_PROGRESS)
    client = staff_client(world["cd_handler"])
    response = client.post(
        f"/board/cases/{case.id}/do/resolve",
        data={"csrf_token": get_csrf(client, "/board/"), "text": " "},
    )
    assert response.status_code == 400 and 'class="field-errors"' in text_of(response)
    assert status_of(app, case.id) == S.IN_PROGRESS


def test_the_case_page_offers_what_the_role_may_do_and_shows_the_law(app, world, staff_client):
    case = case_in(app, world, S.NEW)
    handler = text_of(staff_client(world["cd_handler"]).get(f"/board/cases/{case.id}"))
    chair = text_of(staff_client(world["cd_chair"]).get(f"/board/cases/{case.id}"))
    assert "/do/acknowledge" in handler and "/do/decline" not in handler
    assert "/do/acknowledge" in chair and "/do/decline" in chair
    assert "Luật Tiếp công dân 2013, Điều 28" in handler  # the legal basis of the deadline
    assert "/assign" in chair and "/assign" not in handler


def test_the_information_track_says_verify_and_record_and_file(app, world, staff_client):
    with domain_session(app) as db:  # anonymous complaint: Inspection Board, as information
        submission = Submission(kind=CaseKind.COMPLAINT, title="t", text="x")
        case = submit_case(db, world.organisation, submission, now=NOW).case
    client = staff_client(world["ttnd_chair"])
    client.set_cookie("homthu_lang", "en")
    acknowledge = client.post(
        f"/board/cases/{case.id}/do/acknowledge", data={"csrf_token": get_csrf(client, "/board/")}
    )
    assert acknowledge.status_code == 302
    html = text_of(client.get(f"/board/cases/{case.id}"))
    assert ">Verify</button>" in html and "Record and file" in html
    assert ">Accept for handling</button>" not in html


# --- the chair's tools -----------------------------------------------------------------------


def _post(client, url, **data):
    return client.post(url, data={"csrf_token": get_csrf(client, "/board/"), **data})


def test_the_chair_assigns_and_extends_and_a_handler_may_not(app, world, staff_client):
    case = case_in(app, world, S.IN_PROGRESS)
    chair, handler = staff_client(world["cd_chair"]), staff_client(world["cd_handler"])
    handler_id = world["cd_handler"].account.id
    url = f"/board/cases/{case.id}"
    assert _post(handler, f"{url}/assign", assignee=handler_id).status_code == 403
    assert _post(chair, f"{url}/assign", assignee=handler_id).status_code == 302
    assert world["cd_handler"].account.display_name in text_of(chair.get(url))
    ttnd = world["ttnd_handler"].account.id
    assert _post(chair, f"{url}/assign", assignee=ttnd).status_code == 400
    assert _post(chair, f"{url}/assign", assignee="x").status_code == 400

    page = text_of(chair.get(url))
    assert re.search(r"1 extension\(s\) left|còn được gia hạn 1 lần", page)
    assert _post(handler, f"{url}/extend", reason="Phức tạp").status_code == 403
    assert _post(chair, f"{url}/extend", reason="").status_code == 400
    extended = _post(chair, f"{url}/extend", reason="Phức tạp", from_due="2026-12-18")
    assert extended.status_code == 302
    assert "11/01/2027" in text_of(chair.get(url))  # 15 more working days, past New Year
    chair.set_cookie("homthu_lang", "en")
    second_tab = _post(chair, f"{url}/extend", reason="Phức tạp", from_due="2026-12-18")
    assert ALREADY in text_of(chair.get(second_tab.headers["Location"]))
    refused = _post(chair, f"{url}/extend", reason="Lần nữa", from_due="2027-01-11")
    assert refused.status_code == 409


def test_notes_stay_internal_and_questions_are_highlighted_for_the_reporter(
    app, world, staff_client
):
    reporter = app.test_client()
    _, receipt = file_report(reporter)
    handler = staff_client(world["cd_handler"])
    (case_id,) = re.findall(r'href="/board/cases/([0-9a-f]{32})"', text_of(handler.get("/board/")))
    url = f"/board/cases/{case_id}"
    assert _post(handler, f"{url}/note", text="Ghi chú nội bộ X").status_code == 302
    assert _post(handler, f"{url}/question", text="Phòng nào?").status_code == 302
    assert _post(handler, f"{url}/question", text="").status_code == 400
    follow_up(reporter, receipt)
    page = text_of(reporter.get("/follow-up/case"))
    assert "Ghi chú nội bộ X" not in page
    questions = page.split('data-testid="open-questions"')[1].split("</section>")[0]
    assert "Phòng nào?" in questions
    token = csrf_from(page)
    reporter.post("/follow-up/case/message", data={"csrf_token": token, "text": "Phòng 204"})
    assert 'data-testid="open-questions"' not in text_of(reporter.get("/follow-up/case"))
    assert "Ghi chú nội bộ X" in text_of(handler.get(url))


def test_transfer_recusal_and_identity_grant_over_http(app, world, staff_client):
    named = Identity("Trần Thị C", "Phòng D", "c@example.test")
    case = case_in(app, world, S.NEW, identity=named, body_id=world.cd.id)
    url = f"/board/cases/{case.id}"
    chair, handler = staff_client(world["cd_chair"]), staff_client(world["cd_handler"])
    for client in (chair, handler):
        client.set_cookie("homthu_lang", "en")
    assert "Trần Thị C" not in text_of(handler.get(url))
    handler_id = world["cd_handler"].account.id
    assert _post(chair, f"{url}/identity", account=handler_id).status_code == 302
    assert "Trần Thị C" in text_of(handler.get(url))
    again = _post(chair, f"{url}/identity", account=handler_id)
    assert ALREADY in text_of(chair.get(again.headers["Location"]))

    assert _post(handler, f"{url}/transfer", to_body=world.ttnd.id, reason="x").status_code == 302
    ttnd = staff_client(world["ttnd_handler"])
    assert "Trần Thị C" not in text_of(ttnd.get(url))  # identity only to the receiving chair
    assert "Trần Thị C" in text_of(staff_client(world["ttnd_chair"]).get(url))
    assert chair.get(url).status_code == 404
    second_tab = _post(handler, f"{url}/transfer", to_body=world.ttnd.id, reason="x")
    assert second_tab.status_code == 302
    assert ALREADY in text_of(handler.get(second_tab.headers["Location"]))

    assert _post(ttnd, f"{url}/recuse").status_code == 400  # the box must be ticked
    assert ttnd.get(url).status_code == 200
    assert _post(ttnd, f"{url}/recuse", confirm="y").status_code == 302
    assert ttnd.get(url).status_code == 404
    assert case.reference not in text_of(ttnd.get("/board/"))


def test_the_publication_flow_over_http_ends_on_the_public_results_page(
    app, world, staff_client, client
):
    case = case_in(app, world, S.RESOLVED)
    url = f"/board/cases/{case.id}"
    handler, chair = staff_client(world["cd_handler"]), staff_client(world["cd_chair"])
    assert _post(handler, f"{url}/publication", text="Đã thay ghế phòng 204.").status_code == 302
    draft_id = found(r"/publication/(\d+)/approve", text_of(chair.get(url))).group(1)
    assert "Đã thay ghế" not in text_of(client.get("/results"))
    forbidden = _post(handler, f"{url}/publication/{draft_id}/approve", revision="1")
    assert forbidden.status_code == 403
    assert _post(chair, f"{url}/publication/{draft_id}/approve", revision="1").status_code == 302
    results = client.get("/results")
    assert results.status_code == 200 and "Đã thay ghế phòng 204." in text_of(results)
    assert "<script" not in text_of(results) and results.headers["Cache-Control"] == "no-store"
    early = _post(chair, f"{url}/publication/{draft_id}/withdraw")
    assert early.status_code == 409
    assert client.get("/results?page=x").status_code == 400


def test_the_case_page_shows_the_timeline(app, world, staff_client):
    case = case_in(app, world, S.NEW)
    chair = staff_client(world["cd_chair"])
    chair.set_cookie("homthu_lang", "en")
    _post(chair, f"/board/cases/{case.id}/do/acknowledge")
    html = text_of(chair.get(f"/board/cases/{case.id}"))
    timeline = html.split('class="timeline"')[-1]
    assert "Report received" in timeline and "Acknowledged" in timeline
    assert world["cd_chair"].account.display_name in timeline


# --- the list and the audit log --------------------------------------------------------------


def test_the_list_filters_counts_and_refuses_nonsense(app, world, staff_client):
    case_in(app, world, S.NEW)
    case_in(app, world, S.CLOSED)
    client = staff_client(world["cd_handler"])
    html = text_of(client.get("/board/?status=closed"))
    assert len(re.findall(r'data-testid="case-row"', html)) == 1
    assert re.search(r'data-status="new"[^>]*>[^<]*<span class="count">1<', html)
    assert client.get("/board/?status=bogus").status_code == 400
    assert client.get("/board/?page=0").status_code == 400
    assert client.get("/board/?overdue=y&mine=y&sort=received&kind=problem").status_code == 200


def test_the_audit_log_is_for_chairs(app, world, staff_client):
    case_in(app, world, S.NEW)
    chair = staff_client(world["cd_chair"])
    response = chair.get("/board/audit?action=case.submitted")
    assert response.status_code == 200
    assert len(re.findall(r'data-testid="audit-row"', text_of(response))) == 1
    assert chair.get("/board/audit?action=DROP TABLE").status_code == 400
    assert staff_client(world["cd_handler"]).get("/board/audit").status_code == 403
