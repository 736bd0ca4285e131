"""The transactional outbox: every mail is a row written with the change that caused it."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last attempt; shown to the administrator, never dropped


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    # Stable across retries, so a receiving server can drop a duplicate.
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    # A staff address, or "reporter" for a notice to an address a reporter left: that address
    # is kept only sealed (`recipient_sealed`) and is erased once the row is sent or failed.
    recipient: Mapped[str] = mapped_column(String(320))
    recipient_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    template: Mapped[str] = mapped_column(String(64), default="", server_default="")
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    # Mail that carries a secret (an invitation or reset link) keeps its bodies only sealed,
    # under a key derived from SECRET_KEY, and erased once the row is sent or has failed.
    body_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class MailRun(Base):
    """A scheduled mailing that happened: what makes `summary send`, `reminders send` and
    `reports remind` idempotent however often cron runs them.

    ``job`` is "summary", "digest" or "report_reminder"; ``period`` the month (2026-10), the
    local day (2026-11-27) or the report period (2026-H1); ``scope`` "" for the organisation, or
    "account:<id>" for one person's daily digest.
    """

    __tablename__ = "mail_run"
    __table_args__ = (UniqueConstraint("organisation_id", "job", "period", "scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    job: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(40), default="")
    runs: Mapped[int] = mapped_column(default=1)  # more than 1 only after --force
    first_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
