"""The 6-month and annual reports on grassroots democracy: DOCX (python-docx) and CSV.

`flask --app wsgi report export --period 2026-H1|2026 --format docx|csv --output FILE`; chairs
download their body's report on /board/reports; the administrator's download (issue 5's /admin)
calls `export_report` with `body_id=None` for the whole unit.

Periods: the province wants the 6-month report before 10 May and the annual one before 10
November, so the figures must be closed before then. REPORT_YEAR_START (MM-DD, default 10-15)
is the day the reporting year begins in the previous calendar year: 2026-H1 runs 15/10/2025 –
14/04/2026 and 2026 runs 15/10/2025 – 14/10/2026. With 01-01 the periods are calendar ones.

The statistics are the monthly summary's (service/reporting/summaries.py), with the same
protection of small cells; the document leaves room ("…") for the narrative the administration
writes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.trail import Actor, record_event
from service.mail.outbox import enqueue_mail
from service.mail.runs import claim_run
from service.models import Account, Organisation, Role, SummaryRecipient
from service.platform.clock import local_today, utcnow
from service.platform.errors import InvalidSubmission
from service.platform.settings import Settings
from service.reporting.statistics import Period
from service.reporting.summaries import METRIC_NAMES, Row, StatisticsTable, build_table

REMINDER_JOB = "report_reminder"
REMINDER_DAYS = 14
FORMATS = ("docx", "csv")
CONTENT_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "csv": "text/csv; charset=utf-8",
}


@dataclass(frozen=True)
class ReportPeriod:
    code: str  # "2026-H1" or "2026"
    year: int
    half_year: bool
    period: Period
    due: dt.date  # to be sent before this day

    @property
    def title_vi(self) -> str:
        return f"6 tháng đầu năm {self.year}" if self.half_year else f"năm {self.year}"

    @property
    def title_en(self) -> str:
        return f"first half of {self.year}" if self.half_year else f"the year {self.year}"

    def same_period_a_year_before(self) -> Period:
        year = relativedelta(years=1)
        return Period(self.period.start - year, self.period.end - year)


def report_period(code: str, year_start: tuple[int, int]) -> ReportPeriod:
    """ "2026-H1" or "2026" → its dates (`year_start`: REPORT_YEAR_START); ValueError for anything
    else."""
    month, day = year_start
    year_text, _, half = code.partition("-")
    if not (len(year_text) == 4 and year_text.isdigit()) or half not in ("", "H1"):
        raise ValueError(f"not a report period (2026-H1 or 2026): {code!r}")
    year = int(year_text)
    start = dt.date(year, 1, 1) if (month, day) == (1, 1) else dt.date(year - 1, month, day)
    months = 6 if half else 12
    end = start + relativedelta(months=months) - dt.timedelta(days=1)
    due = dt.date(year, 5, 10) if half else dt.date(year, 11, 10)
    return ReportPeriod(code, year, bool(half), Period(start, end), due)


def recent_periods(today: dt.date, year_start: tuple[int, int]) -> list[ReportPeriod]:
    """The periods a chair may want: this year's and last year's, newest first."""
    found = []
    for year in (today.year, today.year - 1):
        for code in (f"{year}", f"{year}-H1"):
            period = report_period(code, year_start)
            if period.period.start <= today:
                found.append(period)
    return found


def _table(
    db: Session, organisation: Organisation, period: ReportPeriod, today: dt.date, body_id
) -> StatisticsTable:
    table = build_table(
        db, organisation, [period.period, period.same_period_a_year_before()], today
    )
    return table if body_id is None else table.only_body(body_id)


# --- export ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportedReport:
    filename: str
    content_type: str
    data: bytes


def export_report(
    db: Session,
    organisation: Organisation,
    period_code: str,
    fmt: str,
    *,
    actor: Actor,
    settings: Settings,
    body_id: int | None = None,
    now: dt.datetime | None = None,
) -> ExportedReport:
    """Build a report as DOCX or CSV (the whole unit, or one body's) and audit the export."""
    now = now or utcnow()
    try:
        period = report_period(period_code, settings.report_year_start)
    except ValueError:
        raise InvalidSubmission() from None
    if fmt not in FORMATS:
        raise InvalidSubmission()
    table = _table(db, organisation, period, local_today(now), body_id)
    if fmt == "docx":
        data = report_docx(table, period, superior_body=settings.report_superior_body)
    else:
        data = report_csv(table, period)
    record_event(
        db,
        organisation_id=organisation.id,
        action="report.exported",
        actor=actor,
        details={"period": period.code, "format": fmt, "body": body_id},
        now=now,
    )
    scope = "" if body_id is None else f"-{table.sections[0].code}" if table.sections else ""
    filename = f"bao-cao-dan-chu-co-so-{period.code}{scope}.{fmt}"
    return ExportedReport(filename, CONTENT_TYPES[fmt], data)


def _rows(table: StatisticsTable) -> list[tuple[str, Row]]:
    rows = [(section.code, row) for section in table.sections for row in section.rows]
    if table.total is not None:
        rows.append(("", table.total))
    return rows


CSV_COLUMNS = (
    ("received", 0),
    ("received", 1),
    ("acknowledged_on_time", 0),
    ("resolved", 0),
    ("not_accepted", 0),
    ("transferred", 0),
)


def report_csv(table: StatisticsTable, period: ReportPeriod) -> bytes:
    """The report's figures, one row per body and kind; UTF-8 with a BOM so Excel reads it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    names = {s.code: s.name_vi for s in table.sections}
    writer.writerow(
        [
            "Kỳ báo cáo",
            "Từ ngày",
            "Đến ngày",
            "Tổ chức",
            "Loại đơn",
            METRIC_NAMES["received"][0],
            METRIC_NAMES["received"][0] + " (cùng kỳ năm trước)",
            *(METRIC_NAMES[metric][0] for metric, _ in CSV_COLUMNS[2:]),
            METRIC_NAMES["overdue"][0],
            METRIC_NAMES["days_to_acknowledge"][0],
            METRIC_NAMES["days_to_resolve"][0],
        ]
    )
    for code, row in _rows(table):
        writer.writerow(
            [
                period.code,
                period.period.start.isoformat(),
                period.period.end.isoformat(),
                names.get(code, table.organisation_name),
                row.name_vi,
                *(row.counts[metric][index].text for metric, index in CSV_COLUMNS),
                row.overdue.text,
                row.medians["days_to_acknowledge"][0].text,
                row.medians["days_to_resolve"][0].text,
            ]
        )
    return out.getvalue().encode("utf-8-sig")


# --- DOCX -----------------------------------------------------------------------------------

FONT = "Times New Roman"


def _font(run, size: float | None = None, bold=None, italic=None) -> None:
    run.font.name = FONT
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    if size:
        run.font.size = Pt(size)
    if bold is not None:
        run.bold = bold
    if italic is not None:
        run.italic = italic


def _para(container, text: str = "", *, align=None, size=13, bold=False, italic=False, after=4):
    paragraph = container.add_paragraph()
    if align is not None:
        paragraph.alignment = align
    paragraph.paragraph_format.space_after = Pt(after)
    paragraph.paragraph_format.space_before = Pt(0)
    if text:
        _font(paragraph.add_run(text), size, bold, italic)
    return paragraph


def _cell_text(cell, text: str, *, bold=False, italic=False, size=11, align=None) -> None:
    paragraph = cell.paragraphs[0]
    paragraph.paragraph_format.space_after = Pt(0)
    if align is not None:
        paragraph.alignment = align
    _font(paragraph.add_run(text), size, bold, italic)


def _no_borders(table) -> None:
    borders = table._tbl.tblPr.first_child_found_in("w:tblBorders")
    if borders is not None:
        table._tbl.tblPr.remove(borders)


def _statistics_table(document, table: StatisticsTable, columns) -> None:
    """One row per kind, a total per body, the unit's total; `columns` = (heading, getter)."""
    grid = document.add_table(rows=1, cols=len(columns) + 1)
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    _cell_text(grid.rows[0].cells[0], "Loại đơn", bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    for index, (heading, _getter) in enumerate(columns, start=1):
        _cell_text(grid.rows[0].cells[index], heading, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    blocks: list[tuple[str | None, tuple[Row, ...]]] = [
        (f"{s.name_vi} ({s.code})", s.rows) for s in table.sections
    ]
    if table.total is not None:
        blocks.append((None, (table.total,)))
    for heading, rows in blocks:
        if heading:
            cells = grid.add_row().cells
            merged = cells[0].merge(cells[-1])
            _cell_text(merged, heading, bold=True, italic=True)
        for row in rows:
            cells = grid.add_row().cells
            _cell_text(cells[0], row.name_vi, bold=row.is_total)
            for index, (_heading, getter) in enumerate(columns, start=1):
                _cell_text(
                    cells[index], getter(row), bold=row.is_total, align=WD_ALIGN_PARAGRAPH.CENTER
                )


def report_docx(table: StatisticsTable, period: ReportPeriod, *, superior_body: str) -> bytes:
    """A Vietnamese administrative report (Nghị định 30/2020/NĐ-CP layout) with the figures."""
    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(2), Cm(2)
    section.left_margin, section.right_margin = Cm(3), Cm(2)
    normal = document.styles["Normal"]
    normal.font.name, normal.font.size = FONT, Pt(13)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)

    center = WD_ALIGN_PARAGRAPH.CENTER
    header = document.add_table(rows=1, cols=2)
    _no_borders(header)
    left, right = header.rows[0].cells
    left.width, right.width = Cm(6.5), Cm(9.5)
    left.paragraphs[0].alignment = center
    _font(left.paragraphs[0].add_run((superior_body or "…").upper()), 12)
    _para(left, table.organisation_name.upper(), align=center, size=12, bold=True, after=0)
    _para(left, "―――――", align=center, size=10, after=2)
    _para(left, "Số: …/BC-…", align=center, size=13)
    right.paragraphs[0].alignment = center
    _font(right.paragraphs[0].add_run("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"), 12, bold=True)
    _para(right, "Độc lập - Tự do - Hạnh phúc", align=center, size=13, bold=True, after=0)
    _para(right, "―――――――――――", align=center, size=10, after=2)
    place = table.place_name or "…"  # the administrator sets it with the unit's name
    _para(right, f"{place}, ngày … tháng … năm {period.due.year}", align=center, italic=True)

    _para(document, "", after=6)
    _para(document, "BÁO CÁO", align=center, size=14, bold=True, after=0)
    _para(
        document,
        f"Kết quả thực hiện dân chủ ở cơ sở {period.title_vi}",
        align=center,
        size=14,
        bold=True,
        after=0,
    )
    _para(
        document,
        "(tiếp nhận và giải quyết góp ý, kiến nghị, phản ánh, khiếu nại, tố cáo qua Hòm thư kín)",
        align=center,
        italic=True,
        after=0,
    )
    start, end = period.period.start, period.period.end
    _para(
        document,
        f"Số liệu từ ngày {start:%d/%m/%Y} đến ngày {end:%d/%m/%Y}",
        align=center,
        italic=True,
        after=10,
    )
    _para(
        document,
        f"Thực hiện …, {table.organisation_name} báo cáo kết quả thực hiện dân chủ ở cơ sở "
        f"{period.title_vi} như sau:",
    )

    _para(document, "I. TÌNH HÌNH TIẾP NHẬN", bold=True)
    _para(document, "1. Số liệu tiếp nhận", bold=True, italic=True)
    _statistics_table(
        document,
        table,
        [
            ("Đơn nhận được", lambda row: row.counts["received"][0].text),
            ("Cùng kỳ năm trước", lambda row: row.counts["received"][1].text),
            ("Tiếp nhận đúng hạn", lambda row: row.counts["acknowledged_on_time"][0].text),
            ("Chuyển đến", lambda row: row.counts["transferred"][0].text),
            ("Số ngày đến khi tiếp nhận (trung vị)", _median("days_to_acknowledge")),
        ],
    )
    _para(document, "2. Nhận xét: …", after=8)

    _para(document, "II. KẾT QUẢ GIẢI QUYẾT", bold=True)
    _para(document, "1. Số liệu giải quyết", bold=True, italic=True)
    _statistics_table(
        document,
        table,
        [
            ("Đã giải quyết", lambda row: row.counts["resolved"][0].text),
            ("Không thụ lý", lambda row: row.counts["not_accepted"][0].text),
            (f"Đang quá hạn (ngày {table.made_on:%d/%m/%Y})", lambda row: row.overdue.text),
            ("Số ngày đến khi giải quyết (trung vị)", _median("days_to_resolve")),
        ],
    )
    _para(document, "2. Kết quả cụ thể: …", after=8)

    _para(document, "III. ĐÁNH GIÁ", bold=True)
    _para(document, "1. Ưu điểm: …")
    _para(document, "2. Hạn chế, nguyên nhân: …", after=8)
    _para(document, "IV. PHƯƠNG HƯỚNG, NHIỆM VỤ THỜI GIAN TỚI", bold=True)
    _para(document, "…", after=8)

    _para(
        document,
        "Ghi chú: “< 3” là 1 hoặc 2 đơn, không ghi số cụ thể để không ai bị nhận ra; “×” là số "
        "được ẩn để không suy ra được ô “< 3” từ số cộng; “—” là trung vị tính trên dưới 3 đơn, "
        f"không hiển thị. Đầu chuỗi nhật ký kiểm toán: sự kiện #{table.audit.seq}, "
        f"mã băm {table.audit.hash}.",
        size=11,
        italic=True,
        after=10,
    )

    footer = document.add_table(rows=1, cols=2)
    _no_borders(footer)
    left, right = footer.rows[0].cells
    _font(left.paragraphs[0].add_run("Nơi nhận:"), 12, bold=True, italic=True)
    for line in ("- …;", "- …;", "- Lưu: VT, …."):
        _para(left, line, size=11, after=0)
    right.paragraphs[0].alignment = center
    _font(right.paragraphs[0].add_run("THỦ TRƯỞNG ĐƠN VỊ"), 13, bold=True)
    _para(right, "(Ký, ghi rõ họ tên và đóng dấu)", align=center, italic=True, after=48)
    _para(right, "…", align=center, bold=True)

    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _median(metric: str):
    return lambda row: row.medians[metric][0].text


# --- the reminder ---------------------------------------------------------------------------


def due_reminders(today: dt.date, year_start: tuple[int, int]) -> list[ReportPeriod]:
    """The reports whose due day is at most REMINDER_DAYS ahead (and not passed)."""
    found = []
    for code in (f"{today.year}-H1", f"{today.year}"):
        period = report_period(code, year_start)
        if period.due - dt.timedelta(days=REMINDER_DAYS) <= today < period.due:
            found.append(period)
    return found


def send_report_reminders(
    db: Session, now: dt.datetime | None = None, *, year_start: tuple[int, int]
) -> int:
    """`reports remind`: once per period, to the administration and the chairs."""
    now = now or utcnow()
    today = local_today(now)
    queued = 0
    for organisation in db.scalars(select(Organisation).order_by(Organisation.id)).all():
        for period in due_reminders(today, year_start):
            if not claim_run(
                db, organisation_id=organisation.id, job=REMINDER_JOB, period=period.code, now=now
            ):
                continue
            for address, is_chair in _reminder_recipients(db, organisation):
                enqueue_mail(
                    db,
                    organisation_id=organisation.id,
                    recipient=address,
                    template="report_reminder",
                    context={"period": period, "is_chair": is_chair},
                    now=now,
                )
                queued += 1
    return queued


def _reminder_recipients(db: Session, organisation: Organisation) -> list[tuple[str, bool]]:
    administration = db.scalars(
        select(SummaryRecipient.email).where(
            SummaryRecipient.organisation_id == organisation.id,
            SummaryRecipient.kind == "administration",
            SummaryRecipient.active.is_(True),
        )
    )
    chairs = db.scalars(
        select(Account.email).where(
            Account.organisation_id == organisation.id,
            Account.role == Role.CHAIR,
            Account.active.is_(True),
        )
    )
    return [(email, False) for email in administration] + [(email, True) for email in chairs]
