"""The statistics tables behind the monthly summary and the periodic reports, and the summary mail.

`flask --app wsgi summary send [--month YYYY-MM] [--force]` (default: last month) sends each
organisation's summary to its active summary recipients (the whole organisation) and to each
active chair (their own body only): per body and kind, the month and the month before. Counts of
1 and 2 are shown as "< 3" and no total gives one back (service/reporting/disclosure.py); a median
over fewer than 3 cases is not shown. The mail carries the audit chain's head, so a copy of it lives
outside the database. A month is sent once: a second run does nothing without `--force`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from dataclasses import dataclass, replace

from flask import render_template
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.trail import Actor, record_event
from service.mail.outbox import enqueue_mail
from service.mail.runs import claim_run
from service.models import (
    Account,
    AuditEvent,
    AuditHead,
    Body,
    CaseKind,
    Organisation,
    Role,
    SummaryRecipient,
)
from service.platform.clock import local_today, utcnow
from service.reporting.disclosure import THRESHOLD, Mark, protect, shown_text
from service.reporting.statistics import COUNTS, MEDIANS, Key, Period, overdue_now, period_figures

SUMMARY_JOB = "summary"

KIND_NAMES: dict[str, tuple[str, str]] = {
    CaseKind.SUGGESTION: ("Góp ý, kiến nghị", "Suggestion or petition"),
    CaseKind.PROBLEM: ("Phản ánh", "Report of a problem"),
    CaseKind.COMPLAINT: ("Khiếu nại", "Complaint"),
    CaseKind.DENUNCIATION: ("Tố cáo", "Denunciation"),
    CaseKind.MISCONDUCT: ("Quấy rối, hành vi sai phạm", "Harassment or misconduct"),
}

METRIC_NAMES: dict[str, tuple[str, str]] = {
    "received": ("Đơn nhận được", "Received"),
    "acknowledged_on_time": ("Tiếp nhận đúng hạn", "Acknowledged on time"),
    "resolved": ("Đã giải quyết", "Resolved"),
    "not_accepted": ("Không thụ lý", "Not accepted"),
    "transferred": ("Chuyển đến", "Transferred in"),
    "overdue": ("Đang quá hạn", "Overdue now"),
    "days_to_acknowledge": ("Số ngày đến khi tiếp nhận (trung vị)", "Median days to acknowledge"),
    "days_to_resolve": ("Số ngày đến khi giải quyết (trung vị)", "Median days to resolve"),
}

TOTAL_NAMES = ("Cộng", "Total")
ORGANISATION_TOTAL_NAMES = ("Toàn đơn vị", "Whole unit")


# --- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One figure as a reader sees it: `value` is None whenever it is not shown."""

    value: int | float | None
    text: str

    @property
    def shown(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Row:
    body_id: int | None  # None: the organisation's total
    kind: str | None  # None: a total
    name_vi: str
    name_en: str
    counts: dict[str, tuple[Cell, ...]]  # metric → one cell per period
    medians: dict[str, tuple[Cell, ...]]
    overdue: Cell  # now, not per period

    @property
    def is_total(self) -> bool:
        return self.kind is None

    @property
    def is_empty(self) -> bool:
        """Nothing but zeros (and no median): the plain-text part leaves such a row out."""
        cells = [*(c for cells in self.counts.values() for c in cells), self.overdue]
        return all(c.text == "0" for c in cells) and not any(
            c.shown for cells in self.medians.values() for c in cells
        )


@dataclass(frozen=True)
class BodySection:
    body_id: int
    code: str
    name_vi: str
    name_en: str
    rows: tuple[Row, ...]  # one per kind, then the body's total


@dataclass(frozen=True)
class AuditSeal:
    seq: int
    hash: str
    last_event_on: dt.date | None


@dataclass(frozen=True)
class StatisticsTable:
    organisation_name: str
    place_name: str  # where the unit is, for dating documents ("" if not set)
    periods: tuple[Period, ...]  # the period reported first, then what it is compared with
    made_on: dt.date
    sections: tuple[BodySection, ...]
    total: Row | None  # None in a chair's copy: their body only
    audit: AuditSeal

    def only_body(self, body_id: int) -> StatisticsTable:
        """A chair's copy: their body's section, with the suppression of the whole table."""
        return replace(
            self,
            sections=tuple(s for s in self.sections if s.body_id == body_id),
            total=None,
        )

    def max_count(self, metric: str, period: int = 0) -> int | float:
        """The largest shown count of a metric (for the bars), totals aside."""
        values = [
            row.counts[metric][period].value
            for section in self.sections
            for row in section.rows
            if not row.is_total and row.counts[metric][period].shown
        ]
        return max([v for v in values if v is not None] or [0])


def _count_cells(values: dict[Key, int], keys: list[Key], bodies: list[int]) -> dict[Key, Cell]:
    """Protect one metric of one period: each body's kinds add up to the body's total, and the
    bodies' totals to the organisation's."""
    groups = [((body_id, None), [(body_id, kind) for kind in KIND_NAMES]) for body_id in bodies]
    full: dict[Hashable, int] = {key: values.get(key, 0) for key in keys}
    marks = protect(full, groups, grand=(None, None))
    return {
        key: Cell(
            full[key] if marks[key] == Mark.SHOWN else None, shown_text(full[key], marks[key])
        )
        for key in keys
    }


def _median_cell(value: float | None, basis: int) -> Cell:
    if value is None or basis < THRESHOLD:
        return Cell(None, "—")
    text = f"{value:.0f}" if value == int(value) else f"{value:.1f}".replace(".", ",")
    return Cell(value, text)


def _audit_seal(db: Session, organisation_id: int) -> AuditSeal:
    head = db.get(AuditHead, organisation_id)
    if head is None:
        return AuditSeal(0, "0" * 64, None)
    last = db.scalar(
        select(AuditEvent.occurred_on).where(
            AuditEvent.organisation_id == organisation_id, AuditEvent.seq == head.seq
        )
    )
    return AuditSeal(head.seq, head.hash, last)


def build_table(
    db: Session, organisation: Organisation, periods: list[Period], today: dt.date
) -> StatisticsTable:
    """Count in SQL, protect the small cells, and lay the figures out by body and kind."""
    bodies = list(
        db.scalars(
            select(Body).where(Body.organisation_id == organisation.id).order_by(Body.position)
        )
    )
    body_ids = [body.id for body in bodies]
    keys: list[Key] = [
        *((body_id, kind) for body_id in body_ids for kind in KIND_NAMES),
        *((body_id, None) for body_id in body_ids),
        (None, None),
    ]
    figures = period_figures(db, organisation.id, periods)
    counts = {
        metric: [_count_cells(f.counts.get(metric, {}), keys, body_ids) for f in figures]
        for metric in COUNTS
    }
    overdue = _count_cells(overdue_now(db, organisation.id, today), keys, body_ids)
    basis = {"days_to_acknowledge": "acknowledged", "days_to_resolve": "resolved"}

    def row(key: Key, name_vi: str, name_en: str) -> Row:
        return Row(
            body_id=key[0],
            kind=key[1],
            name_vi=name_vi,
            name_en=name_en,
            counts={metric: tuple(cells[key] for cells in counts[metric]) for metric in COUNTS},
            medians={
                metric: tuple(
                    _median_cell(f.median(metric, key), f.count(basis[metric], key))
                    for f in figures
                )
                for metric in MEDIANS
            },
            overdue=overdue[key],
        )

    sections = tuple(
        BodySection(
            body_id=body.id,
            code=body.code,
            name_vi=body.name_vi,
            name_en=body.name_en,
            rows=(
                *(row((body.id, kind), *names) for kind, names in KIND_NAMES.items()),
                row((body.id, None), *TOTAL_NAMES),
            ),
        )
        for body in bodies
    )
    return StatisticsTable(
        organisation_name=organisation.name,
        place_name=organisation.place_name,
        periods=tuple(periods),
        made_on=today,
        sections=sections,
        total=row((None, None), *ORGANISATION_TOTAL_NAMES),
        audit=_audit_seal(db, organisation.id),
    )


# --- months ---------------------------------------------------------------------------------


def month_period(year: int, month: int) -> Period:
    start = dt.date(year, month, 1)
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return Period(start, following - dt.timedelta(days=1))


def previous_month(period: Period) -> Period:
    before = period.start - dt.timedelta(days=1)
    return month_period(before.year, before.month)


def parse_month(text: str) -> Period:
    """ "2026-10" → October 2026; ValueError for anything else."""
    year, _, month = text.partition("-")
    if not (len(year) == 4 and year.isdigit() and month.isdigit() and len(month) == 2):
        raise ValueError(f"not a month as YYYY-MM: {text!r}")
    if not 1 <= int(month) <= 12:
        raise ValueError(f"not a month as YYYY-MM: {text!r}")
    return month_period(int(year), int(month))


def last_month(today: dt.date) -> Period:
    return previous_month(month_period(today.year, today.month))


# --- the mail -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryResult:
    organisation: str
    month: str
    sent: bool  # False: this month had been sent already (and no --force)
    recipients: int


def _recipients(db: Session, organisation: Organisation) -> list[tuple[str, int | None]]:
    """(address, body id or None for the whole organisation)."""
    found: list[tuple[str, int | None]] = [
        (recipient.email, None)
        for recipient in db.scalars(
            select(SummaryRecipient)
            .where(
                SummaryRecipient.organisation_id == organisation.id,
                SummaryRecipient.active.is_(True),
            )
            .order_by(SummaryRecipient.id)
        )
    ]
    found += [
        (chair.email, chair.body_id)
        for chair in db.scalars(
            select(Account)
            .where(
                Account.organisation_id == organisation.id,
                Account.role == Role.CHAIR,
                Account.active.is_(True),
                Account.body_id.is_not(None),
            )
            .order_by(Account.id)
        )
    ]
    return found


def month_label(period: Period) -> str:
    return f"{period.start.month:02d}/{period.start.year}"


def send_monthly_summary(
    db: Session,
    organisation: Organisation,
    month: Period,
    *,
    force: bool = False,
    now: dt.datetime | None = None,
) -> SummaryResult:
    """Queue the month's summary to every recipient, once (one transaction with its record)."""
    now = now or utcnow()
    key = month.start.strftime("%Y-%m")
    if not claim_run(
        db, organisation_id=organisation.id, job=SUMMARY_JOB, period=key, now=now, force=force
    ):
        return SummaryResult(organisation.slug, key, False, 0)
    table = build_table(db, organisation, [month, previous_month(month)], local_today(now))
    recipients = _recipients(db, organisation)
    for address, body_id in recipients:
        copy = table if body_id is None else table.only_body(body_id)
        enqueue_mail(
            db,
            organisation_id=organisation.id,
            recipient=address,
            template="monthly_summary",
            context={"table": copy, "month": month_label(month), **mail_helpers()},
            now=now,
        )
    record_event(
        db,
        organisation_id=organisation.id,
        action="summary.sent",
        actor=Actor.system(),
        details={"month": key, "recipients": len(recipients), "forced": force},
        now=now,
    )
    return SummaryResult(organisation.slug, key, True, len(recipients))


def mail_helpers() -> dict:
    return {
        "kind_names": KIND_NAMES,
        "metric_names": METRIC_NAMES,
        "counts": COUNTS,
        "medians": MEDIANS,
        "threshold": THRESHOLD,
    }


def render_summary_preview(
    table: StatisticsTable, month: Period, *, base_url: str
) -> tuple[str, str]:
    """The text and HTML parts, as the mail would carry them (for tests and the benchmark)."""
    context = {
        "table": table,
        "month": month_label(month),
        "base_url": base_url,
        **mail_helpers(),
    }
    return (
        render_template("mail/monthly_summary.txt", **context),
        render_template("mail/monthly_summary.html", **context),
    )
