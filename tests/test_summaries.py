"""The monthly summary: figures counted in SQL on a seeded dataset, checked against numbers
worked out by hand (small cells included), its mail, and that a month is sent once."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from service.admin.organisations import create_organisation
from service.audit.trail import verify_chain
from service.models import AuditEvent, MailRun, OutboxMessage, SummaryRecipient
from service.platform.clock import LOCAL_TZ
from service.reporting.summaries import (
    build_table,
    last_month,
    month_period,
    parse_month,
    previous_month,
    send_monthly_summary,
)
from service.sealing.profiles import FAST
from tests import mailserver
from tests.casemaker import add_summary_recipients, make_case

smtp = mailserver.smtp  # the fixture

D = dt.date
OCTOBER = month_period(2026, 10)
TODAY = D(2026, 11, 3)
NOW = dt.datetime(2026, 11, 3, 9, 0, tzinfo=LOCAL_TZ)


def seed(db, world) -> None:
    """The dataset the expectations below were worked out from by hand."""
    org, cd, ttnd = world.organisation.id, world.cd.id, world.ttnd.id
    # CD, problem: 5 received 1–5 Oct; acknowledged after 2 days (4) or 12 (1, late: due +10);
    # the first three resolved 20–22 Oct (19 days each).
    for day in range(1, 6):
        received = D(2026, 10, day)
        late = day == 5
        decided = D(2026, 10, 19 + day) if day <= 3 else None
        make_case(
            db,
            org,
            cd,
            "problem",
            received,
            status="closed" if decided else "in_progress",
            acknowledge_due=received + dt.timedelta(days=10),
            acknowledged_on=received + dt.timedelta(days=12 if late else 2),
            decided_on=decided,
            decision="resolved" if decided else None,
            next_due=None if decided else D(2026, 12, 1),
        )
    # CD, complaint: 2 received 10 Oct, acknowledged on time after 4 and 6 days.
    for days in (4, 6):
        make_case(
            db,
            org,
            cd,
            "complaint",
            D(2026, 10, 10),
            status="acknowledged",
            acknowledged_on=D(2026, 10, 10 + days),
            next_due=D(2026, 12, 1),
        )
    # CD, September: 4 suggestions; 1 misconduct case (received in August) transferred in.
    for day in (3, 4, 5, 6):
        make_case(db, org, cd, "suggestion", D(2026, 9, day))
    make_case(
        db, org, cd, "misconduct", D(2026, 8, 20), transferred_on=D(2026, 9, 2), transfer_count=1
    )
    # TTND, denunciation: 3 received 1 Oct, acknowledged after 1, 3 and 8 days; the first
    # not accepted on 10 Oct.
    for index, days in enumerate((1, 3, 8)):
        make_case(
            db,
            org,
            ttnd,
            "denunciation",
            D(2026, 10, 1),
            status="not_accepted" if index == 0 else "acknowledged",
            acknowledged_on=D(2026, 10, 1 + days),
            decided_on=D(2026, 10, 10) if index == 0 else None,
            decision="not_accepted" if index == 0 else None,
            next_due=None if index == 0 else D(2026, 12, 1),
        )
    # TTND, complaint: 2 open since August, overdue since 1 November.
    for _ in range(2):
        make_case(
            db,
            org,
            ttnd,
            "complaint",
            D(2026, 8, 1),
            status="in_progress",
            acknowledged_on=D(2026, 8, 2),
            next_due=D(2026, 11, 1),
        )
    # Another organisation's case is never counted.
    other, bodies = create_organisation(db, name="Other", slug="other", profile=FAST)
    db.flush()
    make_case(db, other.id, bodies[0].body.id, "problem", D(2026, 10, 2))
    db.commit()


KINDS = ("suggestion", "problem", "complaint", "denunciation", "misconduct")


def texts(table, body_code: str, metric: str, period: int = 0) -> dict[str, str]:
    section = next(s for s in table.sections if s.code == body_code)
    return {
        (row.kind or "total"): (
            row.overdue.text if metric == "overdue" else row.counts[metric][period].text
        )
        for row in section.rows
    }


def row_of(kind_texts: dict) -> dict[str, str]:
    return {kind: kind_texts.get(kind, "0") for kind in (*KINDS, "total")}


EXPECTED = [
    # (body, metric, period index, {kind: text}) — "< 3" for 1–2 and for a 0 hidden with one
    # CD received in October: problem 5, complaint 2 (small) → a zero beside it is hidden too
    ("CD", "received", 0, {"suggestion": "< 3", "problem": "5", "complaint": "< 3", "total": "7"}),
    ("TTND", "received", 0, {"denunciation": "3", "total": "3"}),
    # on time: 4 of the 5 problems (one late), both complaints (small)
    (
        "CD",
        "acknowledged_on_time",
        0,
        {"suggestion": "< 3", "problem": "4", "complaint": "< 3", "total": "6"},
    ),
    ("TTND", "acknowledged_on_time", 0, {"denunciation": "3", "total": "3"}),
    ("CD", "resolved", 0, {"problem": "3", "total": "3"}),
    # one not accepted: the cell and the body's total are small together
    ("TTND", "not_accepted", 0, {"denunciation": "< 3", "total": "< 3"}),
    ("CD", "not_accepted", 0, {}),
    # September, beside it
    ("CD", "received", 1, {"suggestion": "4", "total": "4"}),
    ("CD", "transferred", 1, {"misconduct": "< 3", "total": "< 3"}),
    # overdue now: the two TTND complaints
    ("TTND", "overdue", 0, {"complaint": "< 3", "total": "< 3"}),
    ("CD", "overdue", 0, {}),
]


@pytest.mark.parametrize(("body", "metric", "period", "expected"), EXPECTED)
def test_the_figures_match_the_hand_worked_numbers(db, world, body, metric, period, expected):
    seed(db, world)
    table = build_table(db, world.organisation, [OCTOBER, previous_month(OCTOBER)], TODAY)
    assert texts(table, body, metric, period) == row_of(expected)


def test_the_organisations_totals_and_medians(db, world):
    seed(db, world)
    table = build_table(db, world.organisation, [OCTOBER, previous_month(OCTOBER)], TODAY)
    total = table.total
    assert total is not None
    assert [total.counts[m][0].text for m in ("received", "acknowledged_on_time", "resolved")] == [
        "10",
        "9",
        "3",
    ]
    # the not-accepted total (1) and the overdue total (2) are small
    assert total.counts["not_accepted"][0].text == "< 3" and total.overdue.text == "< 3"
    cd = next(s for s in table.sections if s.code == "CD")
    medians = {
        row.kind or "total": (
            row.medians["days_to_acknowledge"][0].text,
            row.medians["days_to_resolve"][0].text,
        )
        for row in cd.rows
    }
    assert medians["problem"] == ("2", "19")  # 2,2,2,2,12 and 19,19,19
    assert medians["complaint"] == ("—", "—")  # over 2 cases: not shown
    assert medians["total"] == ("2", "19")  # 2,2,2,2,4,6,12
    ttnd = next(s for s in table.sections if s.code == "TTND")
    assert ttnd.rows[3].medians["days_to_acknowledge"][0].text == "3"  # 1, 3, 8
    # the whole unit: 1,2,2,2,2,3,4,6,8,12 → (2 + 3) / 2
    assert total.medians["days_to_acknowledge"][0].text == "2,5"
    assert total.medians["days_to_acknowledge"][1].text == "—"  # nothing in September


def test_no_hidden_cell_can_be_worked_out_from_a_shown_total(db, world):
    seed(db, world)
    table = build_table(db, world.organisation, [OCTOBER, previous_month(OCTOBER)], TODAY)
    assert table.total is not None
    for metric in ("received", "acknowledged_on_time", "resolved", "not_accepted"):
        for period in (0, 1):
            lines = [[row.counts[metric][period] for row in s.rows] for s in table.sections]
            lines.append([s.rows[-1].counts[metric][period] for s in table.sections])
            lines[-1].append(table.total.counts[metric][period])
            for line in lines:
                assert sum(not cell.shown for cell in line) != 1, (metric, period, line)


def test_months_are_parsed_and_last_month_is_the_default():
    assert parse_month("2026-02") == month_period(2026, 2)
    assert month_period(2026, 2).end == D(2026, 2, 28)
    assert last_month(D(2026, 1, 15)) == month_period(2025, 12)
    for bad in ("2026-13", "26-01", "2026/01", "", "2026-1"):
        with pytest.raises(ValueError, match="not a month as YYYY-MM"):
            parse_month(bad)


def add_recipients(db, world) -> None:
    add_summary_recipients(
        db,
        world.organisation.id,
        ("lanh.dao@homthu.test", "management"),
        ("hanh.chinh@homthu.test", "administration"),
        ("former@homthu.test", "management"),
    )
    db.flush()
    former = db.scalar(select(SummaryRecipient).where(SummaryRecipient.email.like("former%")))
    former.active = False
    db.commit()


def test_the_summary_goes_to_the_recipients_and_each_chair_gets_only_their_body(db, world, smtp):
    seed(db, world)
    add_recipients(db, world)
    result = send_monthly_summary(db, world.organisation, OCTOBER, now=NOW)
    assert result.sent and result.recipients == 4
    mailserver.send_due(db, clock=lambda: NOW)
    received = {r.rcpt_tos[0]: r for r in smtp.inbox.messages}
    assert set(received) == {
        "lanh.dao@homthu.test",
        "hanh.chinh@homthu.test",
        world["cd_chair"].email,
        world["ttnd_chair"].email,
    }
    head = verify_chain(db, world.organisation.id)
    for address, mail in received.items():
        text, html = mail.part("text/plain"), mail.part("text/html")
        assert "10/2026" in mail.message["Subject"]
        # the audit head before this summary was recorded (the summary is its last event)
        assert re.search(r"\b[0-9a-f]{64}\b", text)
        assert "<script" not in html.lower() and "<img" not in html.lower()
        assert "class=" not in html and "http" not in html.replace("http://homthu.test", "")
        whole_unit = "Toàn đơn vị" in text
        assert whole_unit == address.endswith(("lanh.dao@homthu.test", "hanh.chinh@homthu.test"))
    cd_text = received[world["cd_chair"].email].part("text/plain")
    assert "Công đoàn" in cd_text and "Thanh tra" not in cd_text
    assert head.ok
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "summary.sent"))
    assert event is not None and event.seq == head.events


def test_a_month_is_sent_once_unless_forced(db, world):
    seed(db, world)
    add_recipients(db, world)

    def outbox() -> int:
        return db.scalar(select(func.count()).select_from(OutboxMessage))

    assert send_monthly_summary(db, world.organisation, OCTOBER, now=NOW).sent
    assert outbox() == 4
    again = send_monthly_summary(db, world.organisation, OCTOBER, now=NOW)
    assert not again.sent and outbox() == 4
    forced = send_monthly_summary(db, world.organisation, OCTOBER, force=True, now=NOW)
    assert forced.sent and outbox() == 8
    run = db.scalar(select(MailRun).where(MailRun.job == "summary"))
    assert (run.period, run.runs) == ("2026-10", 2)


def test_the_command_sends_last_month_by_default_and_refuses_nonsense(app, world):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["summary", "send"])
    assert result.exit_code == 0 and "queued to 2" in result.output  # the two chairs
    again = runner.invoke(args=["summary", "send"])
    assert "sent already" in again.output
    bad = runner.invoke(args=["summary", "send", "--month", "2026-13"])
    assert bad.exit_code != 0 and "YYYY-MM" in bad.output
