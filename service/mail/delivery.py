"""Delivering the outbox: `flask --app wsgi outbox send [--loop] [--batch N]`.

Every mail is a row of `outbox_message`, written in the transaction of the change that caused it
(service/mail/outbox.py). This module sends the rows that are due through Flask-Mail (the standard
MAIL_* settings), one row per transaction:

    claim a due row → send it over SMTP → mark it sent (or schedule a retry) → commit

**At least once.** A row is marked sent only after the SMTP server has accepted the message, in
the transaction that follows. A worker killed before that acceptance loses nothing: the row is
still pending and is sent again. A worker killed *between* the server's acceptance and the commit
sends that one mail again on the next run; every retry carries the row's own Message-ID, so a
receiving server (or a reader's client) can recognise the duplicate. We prefer a rare duplicate
to a lost notice.

**Claiming.** On PostgreSQL a worker claims a row with `SELECT … FOR UPDATE SKIP LOCKED` and
holds that row lock while it sends: another worker skips the row, so two workers never send one
mail twice, and a worker that dies releases the lock with its connection, so the row is free for
the next run at once. A crash rolls back that attempt's count too.

SQLite has no row locks, and holding its single write lock during an SMTP conversation would stop
every filing. There a worker claims a row in a short `BEGIN IMMEDIATE` transaction (SQLite's
database-wide write lock makes the claim atomic) by counting the attempt and moving
`next_attempt_at` forward by OUTBOX_LEASE_SECONDS — a lease — and commits before it connects.
Another worker sees the row as not yet due and leaves it alone; if the worker dies, the row
comes back when the lease runs out. This is safe as long as one send finishes within the lease
(MAIL_TIMEOUT bounds each SMTP step; keep the lease well above it). Run one worker on SQLite;
run as many as you like on PostgreSQL.

**Retries.** A failed attempt is retried after an exponentially growing delay with jitter
(OUTBOX_RETRY_SECONDS doubling up to OUTBOX_RETRY_MAX_SECONDS, each delay drawn between half and
all of that), so an outage is not hammered and workers do not retry in step. After
OUTBOX_MAX_ATTEMPTS the row is marked failed: kept, listed by `outbox status` and on the
administrator's page, never deleted. If the SMTP server cannot be reached at all, the batch stops
after that row instead of spending an attempt of every row on the same outage.
"""

from __future__ import annotations

import datetime as dt
import email.charset
import logging
import random
import smtplib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.mime.text import MIMEText
from typing import Any, cast

import flask_mail
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from service.mail.outbox import REPORTER_RECIPIENT, delivery_address, delivery_bodies, erase_sealed
from service.models import OutboxMessage, OutboxStatus
from service.platform.clock import utcnow
from service.platform.settings import DeliverySettings
from service.platform.unit_of_work import commit_exception
from service.sealing import SealingError

log = logging.getLogger("homthu.mail")
# Flask-Mail's configured state (`app.extensions["mail"]`): the SMTP server and its login.
SmtpState = flask_mail._Mail

ERROR_MAX = 300


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int
    retry_seconds: int
    retry_max_seconds: int
    lease_seconds: int

    @classmethod
    def from_settings(cls, settings: DeliverySettings) -> DeliveryPolicy:
        return cls(
            max_attempts=settings.max_attempts,
            retry_seconds=settings.retry_seconds,
            retry_max_seconds=settings.retry_max_seconds,
            lease_seconds=settings.lease_seconds,
        )

    def delay(self, attempts: int, draw: Callable[[], float] = random.random) -> dt.timedelta:
        """How long to wait after the `attempts`-th failure: exponential, with jitter."""
        ceiling = min(self.retry_max_seconds, self.retry_seconds * 2 ** max(0, attempts - 1))
        return dt.timedelta(seconds=ceiling / 2 + draw() * ceiling / 2)


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    unreachable: bool = False  # the SMTP server could not be reached: the batch stopped

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed


class _SmtpConnection(flask_mail.Connection):
    """Flask-Mail's connection, with a timeout: a stalled server must not hang the worker."""

    def __init__(self, mail: SmtpState, timeout: int) -> None:
        # Flask-Mail hands its connection the app's state (_Mail), though it annotates Mail.
        super().__init__(cast(flask_mail.Mail, mail))
        self.timeout = timeout

    def configure_host(self) -> smtplib.SMTP:
        smtp_class = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = smtp_class(self.mail.server, self.mail.port, timeout=self.timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


class _Smtp:
    """One SMTP connection for a batch, opened on first use and reopened after an error."""

    def __init__(self, mail: SmtpState, timeout: int) -> None:
        self.mail, self.timeout = mail, timeout
        self.connection: _SmtpConnection | None = None

    def send(self, message: flask_mail.Message) -> None:
        if self.connection is None:
            connection = _SmtpConnection(self.mail, self.timeout)
            try:
                connection.host = connection.configure_host()
            except (OSError, smtplib.SMTPException) as error:
                raise _Unreachable(error) from error
            self.connection = connection
        try:
            self.connection.send(message)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None and connection.host is not None:
            try:
                connection.host.quit()
            except (OSError, smtplib.SMTPException):
                connection.host.close()


class _Unreachable(Exception):
    """Connecting (or logging in) to the SMTP server failed."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _is_postgresql(db: Session) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def _claim(db: Session, now: dt.datetime, policy: DeliveryPolicy) -> OutboxMessage | None:
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(1)
        .execution_options(populate_existing=True)
    )
    if _is_postgresql(db):
        query = query.with_for_update(skip_locked=True)
    message = db.scalars(query).first()
    if message is None:
        db.rollback()
        return None
    message.attempts += 1
    if not _is_postgresql(db):
        message.next_attempt_at = now + dt.timedelta(seconds=policy.lease_seconds)
        # The lease is taken; SQLite's write lock is not held during the send.
        commit_exception(db, "outbox-delivery")
    return message


def _describe(error: BaseException, address: str | None) -> str:
    """What went wrong, for the administrator: the SMTP code and reply, never the address."""
    if isinstance(error, _Unreachable):
        error = error.cause
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _reply in error.recipients.values()})
        text = f"recipient refused ({', '.join(map(str, codes))})"
    elif isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error
        reply = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        text = f"{error.smtp_code} {reply}"
    else:
        text = str(error) or type(error).__name__
    if address:
        for form in {address, address.lower()}:
            text = text.replace(form, "<recipient>")
    return f"{type(error).__name__}: {text}"[:ERROR_MAX]


class _Message(flask_mail.Message):
    """Flask-Mail's message with quoted-printable text parts.

    Flask-Mail registers UTF-8 with no transfer encoding, so a long line (HTML tables) would
    break SMTP's 998-character limit and be refused; quoted-printable keeps every line short.
    """

    def _mimetext(self, text: str | None, subtype: str = "plain") -> MIMEText:
        utf8 = email.charset.Charset("utf-8")
        utf8.body_encoding = email.charset.QP
        # typeshed says str, but MIMEText takes a Charset too: it is how QP gets chosen.
        return MIMEText(text or "", _subtype=subtype, _charset=utf8)  # type: ignore[arg-type]


def _mail_for(message: OutboxMessage, address: str, sender: str) -> flask_mail.Message:
    text_body, html_body = delivery_bodies(message)
    mail = _Message(
        subject=message.subject,
        recipients=[address],
        body=text_body,
        html=html_body,
        sender=sender,
        date=time.time(),  # the moment it is sent, not the moment it was written
    )
    mail.msgId = message.message_id  # stable across retries: a duplicate can be recognised
    return mail


def deliver_due(
    db: Session,
    *,
    mail: SmtpState,
    settings: DeliverySettings,
    batch: int = 50,
    clock: Callable[[], dt.datetime] = utcnow,
    draw: Callable[[], float] = random.random,
) -> DeliveryReport:
    """Send up to `batch` due rows, each in its own transaction; see the module's docstring.

    `mail` is the application's Flask-Mail state (`app.extensions["mail"]`: the SMTP server).
    """
    policy = DeliveryPolicy.from_settings(settings)
    report = DeliveryReport()
    smtp = _Smtp(mail, settings.timeout)
    try:
        for _ in range(batch):
            message = _claim(db, clock(), policy)
            if message is None:
                break
            if not _deliver_one(db, smtp, message, settings.sender, policy, report, clock, draw):
                report.unreachable = True
                break
    finally:
        smtp.close()
        db.rollback()
    return report


def _deliver_one(
    db: Session,
    smtp: _Smtp,
    message: OutboxMessage,
    sender: str,
    policy: DeliveryPolicy,
    report: DeliveryReport,
    clock: Callable[[], dt.datetime],
    draw: Callable[[], float],
) -> bool:
    """Send one claimed row and record the outcome; False if the server was unreachable."""
    address = None
    reachable = True
    try:
        address = delivery_address(message)
        smtp.send(_mail_for(message, address, sender))
    except SealingError:
        # The sealed address or bodies no longer open (SECRET_KEY changed): they never will.
        message.attempts = max(message.attempts, policy.max_attempts)
        _failed(
            message, "the sealed recipient or body cannot be opened", policy, report, clock, draw
        )
    except _Unreachable as error:
        reachable = False
        _failed(message, _describe(error, address), policy, report, clock, draw)
    except (OSError, smtplib.SMTPException, flask_mail.BadHeaderError) as error:
        _failed(message, _describe(error, address), policy, report, clock, draw)
    else:
        message.status = OutboxStatus.SENT
        message.sent_at = clock()
        message.last_error = None
        erase_sealed(message)
        report.sent += 1
        log.info("outbox #%s sent (attempt %s)", message.id, message.attempts)
    commit_exception(db, "outbox-delivery")
    return reachable


def _failed(
    message: OutboxMessage,
    description: str,
    policy: DeliveryPolicy,
    report: DeliveryReport,
    clock: Callable[[], dt.datetime],
    draw: Callable[[], float],
) -> None:
    message.last_error = description
    if message.attempts >= policy.max_attempts:
        message.status = OutboxStatus.FAILED
        erase_sealed(message)
        report.failed += 1
        log.error(
            "outbox #%s failed for good after %s attempts: %s",
            message.id,
            message.attempts,
            description,
        )
    else:
        message.next_attempt_at = clock() + policy.delay(message.attempts, draw)
        report.retrying += 1
        log.warning("outbox #%s attempt %s failed: %s", message.id, message.attempts, description)


# --- what the administrator sees -------------------------------------------------------------


@dataclass(frozen=True)
class FailedMail:
    """A mail that could not be delivered: who and what kind, never its body."""

    id: int
    organisation_id: int
    recipient: str  # a staff address, or "reporter"
    template: str
    created_at: dt.datetime
    attempts: int
    last_error: str | None

    @property
    def retryable(self) -> bool:
        return self.recipient != REPORTER_RECIPIENT  # a reporter's address has been erased


def failed_mail(
    db: Session, organisation_id: int | None = None, limit: int = 100
) -> list[FailedMail]:
    """The mails that failed for good, newest first (for `outbox status` and /admin)."""
    query = (
        select(
            OutboxMessage.id,
            OutboxMessage.organisation_id,
            OutboxMessage.recipient,
            OutboxMessage.template,
            OutboxMessage.created_at,
            OutboxMessage.attempts,
            OutboxMessage.last_error,
        )
        .where(OutboxMessage.status == OutboxStatus.FAILED)
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    if organisation_id is not None:
        query = query.where(OutboxMessage.organisation_id == organisation_id)
    return [FailedMail(*row) for row in db.execute(query)]


def outbox_counts(db: Session, organisation_id: int | None = None) -> dict[str, int]:
    """How many rows are pending, sent and failed."""
    query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    if organisation_id is not None:
        query = query.where(OutboxMessage.organisation_id == organisation_id)
    counts = {status.value: 0 for status in OutboxStatus}
    # Not dict(result): a Result has .keys() (its columns), so dict() would take it for a mapping.
    counts.update({status: count for status, count in db.execute(query)})  # noqa: C416
    return counts


def retry_failed(
    db: Session, ids: Iterable[int], organisation_id: int | None = None, now=None
) -> int:
    """Put failed mails back in the queue (after the administrator fixed the mail settings).

    A reporter's notice cannot be retried: its address was erased when it failed.
    """
    query = (
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(list(ids)),
            OutboxMessage.status == OutboxStatus.FAILED,
            OutboxMessage.recipient != REPORTER_RECIPIENT,
        )
        .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now or utcnow())
    )
    if organisation_id is not None:
        query = query.where(OutboxMessage.organisation_id == organisation_id)
    count = cast("CursorResult[Any]", db.execute(query)).rowcount
    return count
