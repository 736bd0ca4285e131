"""The 6-month and annual reports: periods, the DOCX and CSV, the chairs' page, the reminder."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io

import pytest
from docx import Document
from sqlalchemy import func, select

from service.audit.trail import Actor
from service.mail.outbox import enqueue_mail
from service.models import (
    AuditEvent,
    MailRun,
    Organisation,
    OutboxMessage,
    Role,
)
from service.platform.clock import LOCAL_TZ
from service.platform.db import get_database
from service.platform.settings import get_settings
from service.reporting.reports import (
    due_reminders,
    export_report,
    report_period,
    send_report_reminders,
)
from tests.casemaker import add_summary_recipients, make_case
from tests.conftest import add_staff, domain_session

D = dt.date
YEAR_START = (10, 15)  # REPORT_YEAR_START's default


@pytest.mark.parametrize(
    ("code", "year_start", "start", "end", "due"),
    [
        ("2026-H1", (10, 15), D(2025, 10, 15), D(2026, 4, 14), D(2026, 5, 10)),
        ("2026", (10, 15), D(2025, 10, 15), D(2026, 10, 14), D(2026, 11, 10)),
        ("2026-H1", (1, 1), D(2026, 1, 1), D(2026, 6, 30), D(2026, 5, 10)),
        ("2026", (1, 1), D(2026, 1, 1), D(2026, 12, 31), D(2026, 11, 10)),
    ],
)
def test_report_periods(code, year_start, start, end, due):
    period = report_period(code, year_start)  # no application needed: the start is an argument
    assert (period.period.start, period.period.end, period.due) == (start, end, due)


@pytest.mark.parametrize("code", ["2026-H2", "26", "2026-h1", "", "2026-H1-x"])
def test_nonsense_periods_are_refused(code):
    with pytest.raises(ValueError, match="not a report period"):
        report_period(code, YEAR_START)


def seed(db, world) -> None:
    """In 2026-H1 (15/10/2025 – 14/04/2026): 7 problems and 1 complaint to the Trade Union,
    4 denunciations to the Inspection Board, 3 of them resolved."""
    org = world.organisation.id
    for day in range(1, 8):
        make_case(db, org, world.cd.id, "problem", D(2026, 2, day), acknowledged_on=D(2026, 2, 9))
    make_case(db, org, world.cd.id, "complaint", D(2026, 3, 1))
    for day in range(1, 5):
        resolved = day <= 3
        make_case(
            db,
            org,
            world.ttnd.id,
            "denunciation",
            D(2026, 1, day),
            status="closed" if resolved else "in_progress",
            decided_on=D(2026, 2, day) if resolved else None,
            decision="resolved" if resolved else None,
        )
    make_case(db, org, world.cd.id, "problem", D(2026, 4, 20))  # after the period
    db.commit()


NOW = dt.datetime(2026, 4, 27, 9, tzinfo=LOCAL_TZ)


def by_section(table) -> dict[tuple[str | None, str], list[str]]:
    """A statistics table's rows by (body heading, kind): a merged row starts a body."""
    found, section = {}, None
    for row in table.rows[1:]:
        texts = [cell.text.strip() for cell in row.cells]
        if len(set(texts)) == 1:
            section = texts[0]
        else:
            found[(section if texts[0] != "Toàn đơn vị" else None, texts[0])] = texts[1:]
    return found


def test_the_docx_is_a_vietnamese_administrative_report_with_the_figures(db, world):
    seed(db, world)
    organisation = db.get(Organisation, world.organisation.id)
    organisation.place_name = "Khánh Hòa"  # the administrator's setting
    db.commit()
    report = export_report(
        db, organisation, "2026-H1", "docx", actor=Actor.system(), settings=get_settings(), now=NOW
    )
    assert report.filename == "bao-cao-dan-chu-co-so-2026-H1.docx"
    document = Document(io.BytesIO(report.data))
    paragraphs = [p.text for p in document.paragraphs]
    assert "BÁO CÁO" in paragraphs
    assert "Kết quả thực hiện dân chủ ở cơ sở 6 tháng đầu năm 2026" in paragraphs
    assert "Số liệu từ ngày 15/10/2025 đến ngày 14/04/2026" in paragraphs
    for heading in ("I. TÌNH HÌNH TIẾP NHẬN", "II. KẾT QUẢ GIẢI QUYẾT", "III. ĐÁNH GIÁ"):
        assert heading in paragraphs
    assert any(p.startswith("IV. PHƯƠNG HƯỚNG") for p in paragraphs)

    header, received, decided, footer = document.tables
    header_text = "\n".join(cell.text for cell in header.rows[0].cells)
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in header_text
    assert "Số: …/BC-…" in header_text and "Khánh Hòa, ngày … tháng … năm 2026" in header_text
    assert world.organisation.name.upper() in header_text
    assert "Nơi nhận:" in footer.rows[0].cells[0].text

    rows = by_section(received)
    assert rows[("Công đoàn (CD)", "Phản ánh")][0] == "7"  # 20 April is after the period
    assert rows[("Công đoàn (CD)", "Khiếu nại")][0] == "< 3"  # one complaint
    assert rows[("Công đoàn (CD)", "Cộng")][0] == "8"
    assert rows[("Ban Thanh tra nhân dân (TTND)", "Tố cáo")][0] == "4"
    assert rows[(None, "Toàn đơn vị")][0] == "12"
    resolved = by_section(decided)
    assert resolved[("Ban Thanh tra nhân dân (TTND)", "Tố cáo")][0] == "3"
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "report.exported"))
    assert event is not None and event.actor_role == "system"


def test_the_report_follows_the_settings_it_is_given_not_the_apps(db, world):
    settings = dataclasses.replace(
        get_settings(), report_year_start=(1, 1), report_superior_body="Ủy ban nhân dân tỉnh"
    )
    report = export_report(
        db, world.organisation, "2026-H1", "docx", actor=Actor.system(), settings=settings, now=NOW
    )
    document = Document(io.BytesIO(report.data))
    assert "Số liệu từ ngày 01/01/2026 đến ngày 30/06/2026" in [p.text for p in document.paragraphs]
    header_text = "\n".join(cell.text for cell in document.tables[0].rows[0].cells)
    assert "ỦY BAN NHÂN DÂN TỈNH" in header_text


def test_the_csv_has_the_same_figures_and_a_bom_for_excel(db, world):
    seed(db, world)
    report = export_report(
        db,
        world.organisation,
        "2026-H1",
        "csv",
        actor=Actor.system(),
        settings=get_settings(),
        now=NOW,
    )
    assert report.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(report.data.decode("utf-8-sig"))))
    received = {(r["Tổ chức"], r["Loại đơn"]): r["Đơn nhận được"] for r in rows}
    assert received[("Công đoàn", "Phản ánh")] == "7"
    assert received[("Công đoàn", "Khiếu nại")] == "< 3"
    assert received[(world.organisation.name, "Toàn đơn vị")] == "12"
    assert {r["Kỳ báo cáo"] for r in rows} == {"2026-H1"}


def test_the_command_writes_the_report(app, world, tmp_path):
    output = tmp_path / "bao-cao.docx"
    result = app.test_cli_runner().invoke(
        args=["report", "export", "--period", "2026", "--format", "docx", "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert "BÁO CÁO" in [p.text for p in Document(str(output)).paragraphs]
    bad = app.test_cli_runner().invoke(
        args=["reports", "export", "--period", "2026-Q1", "--output", str(output)]
    )
    assert bad.exit_code != 0 and "2026-H1" in bad.output


def test_a_chair_downloads_their_bodys_report_and_a_handler_cannot(app, world, staff_client):
    # Not the `db` fixture: its application context would be shared with the client's requests.
    with app.app_context(), get_database(app).session() as db:
        seed(db, world)
    chair = staff_client(world["cd_chair"])
    page = chair.get("/board/reports")
    assert page.status_code == 200 and "/board/reports/2025-H1.docx" in page.get_data(as_text=True)
    response = chair.get("/board/reports/2026-H1.csv")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data().decode("utf-8-sig")
    assert "Công đoàn" in text and "Thanh tra" not in text and "Toàn đơn vị" not in text
    assert chair.get("/board/reports/2026-H9.docx").status_code == 400
    assert chair.get("/board/reports/2026.pdf").status_code == 400
    handler = staff_client(world["cd_handler"])
    assert handler.get("/board/reports").status_code == 403
    assert handler.get("/board/reports/2026-H1.docx").status_code == 403


@pytest.mark.parametrize(
    ("today", "due"),
    [
        (D(2026, 4, 25), []),
        (D(2026, 4, 26), ["2026-H1"]),
        (D(2026, 5, 9), ["2026-H1"]),
        (D(2026, 5, 10), []),
        (D(2026, 10, 27), ["2026"]),
        (D(2026, 11, 10), []),
    ],
)
def test_reminders_fall_in_the_fourteen_days_before_10_may_and_10_november(today, due):
    assert [period.code for period in due_reminders(today, YEAR_START)] == due


def test_the_reminder_goes_once_to_the_administration_and_the_chairs(db, world):
    add_summary_recipients(
        db,
        world.organisation.id,
        ("hc@homthu.test", "administration"),
        ("ld@homthu.test", "management"),
    )
    db.commit()
    assert send_report_reminders(db, now=NOW, year_start=YEAR_START) == 3
    recipients = set(db.scalars(select(OutboxMessage.recipient)))
    assert recipients == {"hc@homthu.test", world["cd_chair"].email, world["ttnd_chair"].email}
    assert send_report_reminders(db, now=NOW + dt.timedelta(hours=5), year_start=YEAR_START) == 0
    assert send_report_reminders(db, now=NOW + dt.timedelta(days=3), year_start=YEAR_START) == 0
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 3
    assert db.scalar(select(MailRun.period).where(MailRun.job == "report_reminder")) == "2026-H1"
    chair_mail = db.scalar(
        select(OutboxMessage).where(OutboxMessage.recipient == world["cd_chair"].email)
    )
    assert "/board/reports" in chair_mail.text_body and "10/05/2026" in chair_mail.text_body


def test_the_administrator_downloads_the_whole_units_report(app, world, staff_client):
    admin = add_staff(app, world, "admin", Role.ADMIN, None)
    with domain_session(app) as db:
        seed(db, world)
    client = staff_client(admin)
    page = client.get("/admin/reports")
    assert page.status_code == 200 and "/admin/reports/2026-H1.docx" in page.get_data(as_text=True)
    response = client.get("/admin/reports/2026-H1.csv")
    assert response.status_code == 200
    text = response.get_data().decode("utf-8-sig")
    assert "Công đoàn" in text and "Ban Thanh tra nhân dân" in text and "Toàn đơn vị" in text
    document = client.get("/admin/reports/2026.docx")
    assert document.status_code == 200
    assert "BÁO CÁO" in [p.text for p in Document(io.BytesIO(document.get_data())).paragraphs]


def test_the_administrator_sees_failed_mail_without_its_content(app, world, staff_client):
    admin = add_staff(app, world, "admin", Role.ADMIN, None)
    with domain_session(app) as db:
        message = enqueue_mail(
            db,
            organisation_id=world.organisation.id,
            recipient=world["cd_chair"].email,
            template="new_case",
        )
        message.status, message.attempts = "failed", 16
        message.last_error = "SMTPDataError: 554 Rejected"
        db.commit()
        body_line = message.text_body.splitlines()[0]
    html = staff_client(admin).get("/admin/").get_data(as_text=True)
    assert "SMTPDataError: 554 Rejected" in html and world["cd_chair"].email in html
    assert "new_case" in html and body_line not in html
