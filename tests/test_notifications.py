"""Who is told what, and that no mail says anything about a case or its reporter."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, update

from service.cases.casework import add_reporter_message, open_case_with_receipt, reply_to_reporter
from service.cases.intake import Submission, submit_case
from service.cases.lifecycle import assign_case, resolve_case
from service.mail.reminders import send_daily_digests
from service.models import Account, Case, CaseKind, MailRun, MessageKind, OutboxMessage
from service.platform.clock import LOCAL_TZ, local_today, utcnow
from service.platform.db import get_database
from service.reporting.summaries import last_month, send_monthly_summary
from tests import mailserver
from tests.flows import file_report, open_report_form
from tests.test_sentinel import Scenario, database_haystacks, find_leaks, mail_haystacks

smtp = mailserver.smtp  # the fixture

NOTIFY = "nguoi.gui.rieng.k7@thu-rieng.test"


def outbox(db) -> list[OutboxMessage]:
    db.expire_all()
    rows = list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    db.commit()  # end the read: on SQLite another connection may want to write or scan
    return rows


def clear_outbox(db) -> None:
    db.execute(update(OutboxMessage).values(status="sent"))
    db.commit()


def pending(db) -> list[OutboxMessage]:
    return [row for row in outbox(db) if row.status == "pending"]


def file(db, world, *, excluded=(), notify_email=None, kind=CaseKind.PROBLEM):
    filed = submit_case(
        db,
        world.organisation,
        Submission(
            kind=kind,
            title="t",
            text="x",
            body_id=world.cd.id,
            excluded_account_ids=frozenset(excluded),
            notify_email=notify_email,
        ),
    )
    db.commit()  # as the filing's request would
    return filed.case, filed.receipt


# --- a reporter's message -------------------------------------------------------------------


def test_a_reporters_message_goes_to_the_assignee(db, world):
    case, receipt = file(db, world)
    assign_case(db, world["cd_chair"].account, case.id, assignee_id=world["cd_handler"].account.id)
    clear_outbox(db)
    access = open_case_with_receipt(db, world.organisation, receipt)
    add_reporter_message(db, access, "thêm")
    assert [row.recipient for row in pending(db)] == [world["cd_handler"].email]


@pytest.mark.parametrize("assignee", [None, "inactive"])
def test_without_an_assignee_who_can_read_it_every_reader_is_told(db, world, assignee):
    case, receipt = file(db, world)
    if assignee:
        assign_case(
            db, world["cd_chair"].account, case.id, assignee_id=world["cd_handler"].account.id
        )
        db.execute(
            update(Account).where(Account.id == world["cd_handler"].account.id).values(active=False)
        )
        db.commit()
    clear_outbox(db)
    add_reporter_message(db, open_case_with_receipt(db, world.organisation, receipt), "thêm")
    expected = {world["cd_chair"].email} | (set() if assignee else {world["cd_handler"].email})
    assert {row.recipient for row in pending(db)} == expected
    assert {row.template for row in pending(db)} == {"reporter_message"}


# --- the notice to an address the reporter left ---------------------------------------------


def test_the_report_form_offers_the_notice_with_a_warning(client, world):
    html = open_report_form(client).get_data(as_text=True)
    notice = html[html.index('class="law-notice notify"') : html.index('name="notify_email"')]
    assert "Điều này làm giảm tính ẩn danh" in notice  # the warning, in Vietnamese first
    assert re.search(r'<input[^>]*name="notify_email"[^>]*type="email"', html) or re.search(
        r'<input[^>]*type="email"[^>]*name="notify_email"', html
    )


def test_a_malformed_address_is_refused_with_a_message(client, world):
    response, receipt = file_report(client, notify_email="not an address")
    assert response.status_code == 400 and receipt is None
    assert 'id="notify_email-errors"' in response.get_data(as_text=True)


def test_the_address_is_sealed_and_each_reply_question_and_decision_sends_a_notice(db, world, app):
    case, _receipt = file(db, world, notify_email=NOTIFY)
    engine = get_database(app).engine
    assert not find_leaks(database_haystacks(engine), {"address": NOTIFY})
    handler = world["cd_handler"]
    clear_outbox(db)

    reply_to_reporter(db, handler.principal(), case.id, text="trả lời")
    reply_to_reporter(db, handler.principal(), case.id, text="hỏi", kind=MessageKind.QUESTION)
    notices = pending(db)
    assert [row.template for row in notices] == ["reporter_notice"] * 2
    assert all(row.recipient == "reporter" and row.recipient_sealed for row in notices)
    assert not find_leaks(database_haystacks(engine), {"address": NOTIFY})

    from service.cases.lifecycle import accept_case, acknowledge_case

    acknowledge_case(db, handler.account, case.id)
    accept_case(db, handler.account, case.id)
    resolve_case(db, handler.principal(), case.id, summary="đã giải quyết")
    assert [row.template for row in pending(db)].count("reporter_notice") == 3


def test_no_address_no_notice(db, world):
    case, _receipt = file(db, world)
    clear_outbox(db)
    handler = world["cd_handler"]
    reply_to_reporter(db, handler.principal(), case.id, text="trả lời")
    assert pending(db) == []


# --- the daily digest -----------------------------------------------------------------------


def set_due(db, case, due: dt.date) -> None:
    db.execute(update(Case).where(Case.id == case.id).values(next_due=due))
    db.commit()


def test_the_digest_counts_what_each_person_can_read_once_a_day(db, world):
    today = local_today()
    overdue, soon, later_case = (file(db, world)[0] for _ in range(3))
    hidden_from_handler, _ = file(db, world, excluded={world["cd_handler"].account.id})
    set_due(db, overdue, today - dt.timedelta(days=1))
    set_due(db, soon, today + dt.timedelta(days=3))
    set_due(db, later_case, today + dt.timedelta(days=4))
    set_due(db, hidden_from_handler, today - dt.timedelta(days=2))
    clear_outbox(db)

    assert send_daily_digests(db) == 2  # the two CD members; TTND has nothing due
    digests = {row.recipient: row for row in pending(db)}
    chair, handler = digests[world["cd_chair"].email], digests[world["cd_handler"].email]
    assert re.search(r"Quá hạn:\s+2\b", chair.text_body)  # incl. the case excluding the handler
    assert re.search(r"Quá hạn:\s+1\b", handler.text_body)
    assert re.search(r"tới:\s+1\b", handler.text_body)

    assert send_daily_digests(db) == 0  # however often it runs that day
    assert len(pending(db)) == 2
    tomorrow = utcnow() + dt.timedelta(days=1)
    assert send_daily_digests(db, now=tomorrow) == 2
    runs = db.scalars(select(MailRun).where(MailRun.job == "digest")).all()
    assert len(runs) == 4


def test_an_inactive_handler_gets_no_digest(db, world):
    case, _ = file(db, world)
    set_due(db, case, local_today() - dt.timedelta(days=1))
    db.execute(
        update(Account).where(Account.id == world["cd_handler"].account.id).values(active=False)
    )
    db.commit()
    clear_outbox(db)
    send_daily_digests(db)
    assert [row.recipient for row in pending(db)] == [world["cd_chair"].email]


# --- every mail that leaves, scanned ---------------------------------------------------------


def test_no_delivered_mail_carries_the_scenarios_content_or_the_reporters_address(
    app, db, world, smtp, client
):
    scenario = Scenario.new()
    words = scenario.words
    response, receipt = file_report(
        client,
        kind="misconduct",
        identity="named",
        body=str(world.cd.id),
        # form fields, never `files`
        **{field: words[field] for field in ("title", "text", "name", "department", "contact")},  # type: ignore[arg-type]
        notify_email=NOTIFY,
    )
    assert response.status_code == 200 and receipt
    case = db.scalar(select(Case))
    access = open_case_with_receipt(db, world.organisation, receipt)
    add_reporter_message(db, access, words["follow-up"])
    handler = world["cd_handler"]
    reply_to_reporter(db, handler.principal(), case.id, text=words["reply"])
    set_due(db, case, local_today() - dt.timedelta(days=1))
    send_daily_digests(db)
    send_monthly_summary(db, world.organisation, last_month(local_today()))
    now = dt.datetime.now(LOCAL_TZ) + dt.timedelta(days=1)
    mailserver.send_due(db, clock=lambda: now)

    received = smtp.inbox.messages
    templates = {row.template for row in outbox(db)}
    assert {"new_case", "reporter_message", "reporter_notice", "daily_digest"} <= templates
    assert {"monthly_summary"} <= templates
    assert len(received) == len(outbox(db)) and all(row.status == "sent" for row in outbox(db))
    about_the_case = {"reference": case.reference, "case id": case.id}
    # A notification names no kind; the summary lists every kind as a row of its table.
    kind = {"kind": "misconduct", "kind label": "Quấy rối", "kind label (en)": "Harassment"}
    for index, mail in enumerate(received):
        haystacks = mail_haystacks(mail.raw, f"mail {index}")
        needles = {**scenario.needles(), **about_the_case}
        if "Summary for" not in mail.message["Subject"]:
            needles.update(kind)
        leaks = find_leaks(haystacks, needles)
        assert not leaks, "\n".join(map(str, leaks))
        if mail.rcpt_tos != [NOTIFY]:
            assert not find_leaks(haystacks, {"address": NOTIFY})
        else:  # the notice itself: the address is where it goes, and nowhere in its text
            text = {k: v for k, v in haystacks.items() if "part" in k}
            assert not find_leaks(text, {"address": NOTIFY})
    assert [mail.rcpt_tos for mail in received].count([NOTIFY]) == 1
    # Sent: the outbox keeps no trace of the address.
    db.rollback()
    engine = get_database(app).engine
    assert not find_leaks(database_haystacks(engine), {"address": NOTIFY})
