"""The append-only, hash-chained audit trail."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime


class AuditEvent(Base):
    """One thing that happened. Never updated, never deleted.

    ``hash`` = SHA-256(previous hash ‖ canonical JSON of this row), ``seq`` counts from 1 per
    organisation without gaps, so an edited, deleted, inserted or reordered row breaks the chain.
    A reporter's event has ``occurred_at`` NULL: only the day is recorded.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        UniqueConstraint("organisation_id", "seq"),
        Index("ix_audit_event_case_id", "case_id"),
        # The organisation's log filtered by action, newest first (service/cases/timeline.py).
        Index("ix_audit_event_organisation_action", "organisation_id", "action", "seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    seq: Mapped[int]
    occurred_on: Mapped[dt.date]
    occurred_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None]
    case_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON, never content
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's head per organisation; locked while appending so appends are serialised."""

    __tablename__ = "audit_head"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    hash: Mapped[str] = mapped_column(String(64))
