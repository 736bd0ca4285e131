"""Commands that cron or systemd timers run: outbox, reminders, summary, report(s).

flask --app wsgi outbox send [--loop] [--batch N]   deliver due mail (a worker with --loop)
flask --app wsgi outbox status                      counts and failed mail (never bodies)
flask --app wsgi outbox retry ID... | --all-failed  queue failed mail again
flask --app wsgi reminders send                     the daily digest, once per person per day
flask --app wsgi summary send [--month YYYY-MM] [--force]
flask --app wsgi report export --period 2026-H1 --format docx --output FILE
flask --app wsgi reports remind                     14 days before 10 May and 10 November
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.trail import Actor
from service.mail.delivery import (
    DeliveryReport,
    deliver_due,
    failed_mail,
    outbox_counts,
    retry_failed,
)
from service.mail.reminders import send_daily_digests
from service.models import Body, Organisation, OutboxMessage, OutboxStatus
from service.platform.clock import local_today, utcnow
from service.platform.db import get_database
from service.platform.errors import InvalidSubmission
from service.platform.settings import get_settings
from service.platform.unit_of_work import in_transaction, transaction
from service.platform.workers import DATABASE_LOST, DatabaseOutage
from service.reporting.reports import FORMATS, export_report, send_report_reminders
from service.reporting.summaries import last_month, parse_month, send_monthly_summary

outbox_cli = AppGroup("outbox", help="Outgoing mail.")
reminders_cli = AppGroup("reminders", help="The daily digest of due and overdue cases.")
summary_cli = AppGroup("summary", help="The monthly summary.")
report_cli = AppGroup("report", help="The 6-month and annual reports.")
reports_cli = AppGroup("reports", help="The 6-month and annual reports (same as `report`).")


# --- outbox ---------------------------------------------------------------------------------


@outbox_cli.command("send")
@click.option("--loop", is_flag=True, help="Keep running as a worker (stop with SIGTERM).")
@click.option("--batch", default=50, show_default=True, type=click.IntRange(1, 10_000))
@in_transaction
def outbox_send(db: Session, loop: bool, batch: int) -> None:
    """Deliver the mail that is due (retries with backoff; see service/mail/delivery.py)."""
    # deliver_due commits each mail itself, so the loop never holds one long transaction
    # (unit-of-work exception: outbox-delivery).
    stop = threading.Event()
    if loop:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    poll = current_app.config["OUTBOX_POLL_SECONDS"]
    outage = DatabaseOutage(stop, first_wait=min(poll, 5))
    while True:
        try:
            report = _deliver_once(db, batch)
        except DATABASE_LOST as error:
            if not loop:
                raise
            outage.wait_after(db, error)  # a worker outlives the database going away
            if stop.is_set():
                return
            continue
        outage.ended()
        if report.attempted or not loop:
            click.echo(
                f"sent {report.sent}, to retry {report.retrying}, failed {report.failed}"
                + (" — the SMTP server could not be reached" if report.unreachable else "")
            )
        if not loop or stop.is_set():
            return
        if report.attempted < batch or report.unreachable:
            stop.wait(poll)
            if stop.is_set():
                return


def _deliver_once(db: Session, batch: int) -> DeliveryReport:
    return deliver_due(
        db,
        mail=current_app.extensions["mail"],
        settings=get_settings().delivery,
        batch=batch,
    )


@outbox_cli.command("status")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
def outbox_status(limit: int) -> None:
    """Counts per status, the oldest pending mail, and the failed mail (no bodies)."""
    with get_database().session() as db:
        counts = outbox_counts(db)
        click.echo("  ".join(f"{status}: {count}" for status, count in counts.items()))
        oldest = db.scalar(
            select(OutboxMessage.next_attempt_at)
            .where(OutboxMessage.status == OutboxStatus.PENDING)
            .order_by(OutboxMessage.next_attempt_at)
            .limit(1)
        )
        if oldest is not None:
            click.echo(f"next pending mail due at {oldest:%Y-%m-%d %H:%M} UTC")
        failed = failed_mail(db, limit=limit)
        if failed:
            click.echo("failed mail (newest first):")
        for mail in failed:
            click.echo(
                f"  #{mail.id}  {mail.created_at:%Y-%m-%d}  {mail.template or '-':16} "
                f"{mail.recipient}  attempts {mail.attempts}  {mail.last_error or ''}"
            )


@outbox_cli.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="Every failed mail that can still be sent.")
def outbox_retry(ids: tuple[int, ...], all_failed: bool) -> None:
    """Queue failed mail again, e.g. after the mail settings were fixed."""
    with transaction() as db:
        if all_failed:
            ids = tuple(mail.id for mail in failed_mail(db, limit=1_000_000) if mail.retryable)
        if not ids:
            raise click.UsageError("Give the ids of failed mails, or --all-failed.")
        count = retry_failed(db, ids)
    click.echo(f"{count} mail(s) queued again.")


# --- reminders, summaries, reports ----------------------------------------------------------


@reminders_cli.command("send")
def reminders_send() -> None:
    """Queue today's digest of due-soon and overdue cases (once per person per local day)."""
    with transaction() as db:
        count = send_daily_digests(db)
    click.echo(f"{count} digest(s) queued.")


@summary_cli.command("send")
@click.option("--month", help="YYYY-MM (default: last month).")
@click.option("--force", is_flag=True, help="Send again a month that was sent already.")
def summary_send(month: str | None, force: bool) -> None:
    """Queue the monthly summary to the summary recipients and the chairs."""
    try:
        period = parse_month(month) if month else last_month(local_today())
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--month") from None
    with transaction() as db:
        organisations = db.scalars(select(Organisation).order_by(Organisation.id)).all()
        results = [
            send_monthly_summary(db, organisation, period, force=force, now=utcnow())
            for organisation in organisations
        ]
    for result in results:
        if result.sent:
            click.echo(f"{result.organisation}: {result.month} queued to {result.recipients}.")
        else:
            click.echo(
                f"{result.organisation}: {result.month} was sent already (--force to resend)."
            )


def _export(period: str, fmt: str, output: Path, slug: str | None, body_code: str | None) -> None:
    # Written only once its audit event is committed: no export goes unrecorded.
    with transaction() as db:
        query = select(Organisation).order_by(Organisation.id)
        if slug:
            query = query.where(Organisation.slug == slug)
        organisations = db.scalars(query.limit(2)).all()
        if len(organisations) != 1:
            raise click.UsageError("Say which organisation with --org.")
        organisation = organisations[0]
        body_id = None
        if body_code:
            body_id = db.scalar(
                select(Body.id).where(
                    Body.organisation_id == organisation.id, Body.code == body_code.upper()
                )
            )
            if body_id is None:
                raise click.UsageError(f"No body {body_code!r}.")
        try:
            report = export_report(
                db,
                organisation,
                period,
                fmt,
                actor=Actor.system(),
                settings=get_settings(),
                body_id=body_id,
            )
        except InvalidSubmission:
            raise click.BadParameter(
                f"{period!r} is not a period such as 2026-H1 or 2026.", param_hint="--period"
            ) from None
    output.write_bytes(report.data)
    click.echo(f"{output}: {len(report.data)} bytes.")


_export_options = (
    click.option("--period", required=True, help="2026-H1 (6 months) or 2026 (the year)."),
    click.option("--format", "fmt", type=click.Choice(FORMATS), default="docx", show_default=True),
    click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path)),
    click.option("--org", "slug", help="Organisation slug (when there are several)."),
    click.option("--body", "body_code", help="One body only (CD, TTND); default: the whole unit."),
)


def _with_export_options(function):
    for option in reversed(_export_options):
        function = option(function)
    return function


@_with_export_options
def _export_command(period, fmt, output, slug, body_code) -> None:
    """Write the report of a period as DOCX (to edit) or CSV (UTF-8 with BOM)."""
    _export(period, fmt, output, slug, body_code)


def _remind_command() -> None:
    """Remind the administration and the chairs 14 days before 10 May and 10 November."""
    with transaction() as db:
        count = send_report_reminders(db, year_start=get_settings().report_year_start)
    click.echo(f"{count} reminder(s) queued.")


for group in (report_cli, reports_cli):
    group.command("export")(_export_command)
    group.command("remind")(_remind_command)


MAIL_COMMAND_GROUPS = (outbox_cli, reminders_cli, summary_cli, report_cli, reports_cli)
