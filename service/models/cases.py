"""Cases and everything attached to them.

Metadata (kind, body, status, dates, deadlines) is plaintext so SQL can filter and count.
Everything a person wrote or uploaded is ciphertext: the ``*_ct`` columns and attachment chunks,
sealed under keys that only the case's key wraps open.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import Base, UTCDateTime
from service.models.org import Account, Body


class CaseKind(enum.StrEnum):
    SUGGESTION = "suggestion"  # góp ý / kiến nghị
    PROBLEM = "problem"  # phản ánh
    COMPLAINT = "complaint"  # khiếu nại
    DENUNCIATION = "denunciation"  # tố cáo
    MISCONDUCT = "misconduct"  # quấy rối / hành vi sai phạm


# By law these must carry the sender's name; anonymous ones are handled as information
# (Law on Denunciations Art. 25).
NAMED_ONLY_KINDS = frozenset({CaseKind.COMPLAINT, CaseKind.DENUNCIATION})


class CaseStatus(enum.StrEnum):
    NEW = "new"  # mới
    TRANSFERRED = "transferred"  # chuyển đơn: waiting for the receiving body to acknowledge
    ACKNOWLEDGED = "acknowledged"  # đã tiếp nhận
    IN_PROGRESS = "in_progress"  # đang xử lý
    RESOLVED = "resolved"  # đã giải quyết
    NOT_ACCEPTED = "not_accepted"  # không thụ lý
    CLOSED = "closed"  # đóng


OPEN_STATUSES = frozenset(
    {CaseStatus.NEW, CaseStatus.TRANSFERRED, CaseStatus.ACKNOWLEDGED, CaseStatus.IN_PROGRESS}
)


class Priority(enum.StrEnum):
    NORMAL = "normal"
    HIGH = "high"  # e.g. the reporter flagged retaliation


class Track(enum.StrEnum):
    FORMAL = "formal"
    INFORMATION = "information"  # anonymous complaint or denunciation


class KeyPurpose(enum.StrEnum):
    """Which of a case's keys a wrap holds.

    CASE opens what the reporter and the handlers share (title, text, messages, files).
    STAFF opens what only handlers see (the reporter's exclusions, later internal notes).
    IDENTITY opens a named reporter's identity and contact: chairs and the recovery key only.
    """

    CASE = "case"
    STAFF = "staff"
    IDENTITY = "identity"


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("organisation_id", "reference"),
        # The board's list reads each of its orders from one index range, in order: by deadline
        # (next_due, nulls last, then the oldest first) or by received day (newest first), with
        # or without a status (service/cases/caselist.py, benchmarks/bench_case_list.py).
        Index("ix_cases_body_next_due", "body_id", "next_due", "received_on", "reference"),
        Index(
            "ix_cases_body_status_next_due",
            "body_id",
            "status",
            "next_due",
            "received_on",
            "reference",
        ),
        Index("ix_cases_body_received", "body_id", "received_on", "reference"),
        Index("ix_cases_body_status_received", "body_id", "status", "received_on", "reference"),
        Index("ix_cases_organisation_received", "organisation_id", "received_on"),
        # The monthly summary and the periodic reports count what happened in a date range.
        Index("ix_cases_organisation_acknowledged", "organisation_id", "acknowledged_on"),
        Index("ix_cases_organisation_decided", "organisation_id", "decided_on"),
        Index("ix_cases_organisation_transferred", "organisation_id", "transferred_on"),
    )

    # Random hex ids: they reveal neither order nor count, and a malformed one is simply unknown.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    body_id: Mapped[int] = mapped_column(ForeignKey("body.id"))
    reference: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), default=CaseStatus.NEW)
    track: Mapped[str] = mapped_column(String(16))
    anonymous: Mapped[bool]
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), index=True)
    priority: Mapped[str] = mapped_column(String(16), default=Priority.NORMAL)
    # Chosen by the reporter: such a case is never routed or transferred to the head of unit.
    concerns_head_of_unit: Mapped[bool] = mapped_column(default=False)

    # Day precision, local calendar: never the time of a reporter's action.
    received_on: Mapped[dt.date]
    acknowledged_on: Mapped[dt.date | None]
    accepted_on: Mapped[dt.date | None]
    decided_on: Mapped[dt.date | None]  # resolved or not accepted
    # Which decision (CaseStatus.RESOLVED or NOT_ACCEPTED): the status alone loses it once the
    # case is closed, and the statistics count both.
    decision: Mapped[str | None] = mapped_column(String(16))
    closed_on: Mapped[dt.date | None]
    transferred_on: Mapped[dt.date | None]
    transfer_count: Mapped[int] = mapped_column(default=0)
    reopen_count: Mapped[int] = mapped_column(default=0)

    # Deadlines from the organisation's rules; next_due is the one the case is waiting on now,
    # kept in step by every transition so lists can sort and flag in SQL.
    acknowledge_due: Mapped[dt.date]
    accept_due: Mapped[dt.date | None]
    resolve_due: Mapped[dt.date | None]
    next_due: Mapped[dt.date | None]
    extensions: Mapped[int] = mapped_column(default=0)

    # The reporter's voice: numbers and days, never text.
    rating: Mapped[int | None]
    rated_on: Mapped[dt.date | None]
    retaliation_flagged_on: Mapped[dt.date | None]
    # The day `retention apply` removed its content and keys: only the metadata is left.
    shredded_on: Mapped[dt.date | None]

    # Reporter access: lookup id and public key derived from the receipt (one Argon2id).
    lookup_id: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    reporter_public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    reporter_kdf: Mapped[str] = mapped_column(String(64))

    title_ct: Mapped[bytes] = mapped_column(LargeBinary)
    text_ct: Mapped[bytes] = mapped_column(LargeBinary)
    identity_ct: Mapped[bytes | None] = mapped_column(LargeBinary)  # under the IDENTITY key
    exclusions_ct: Mapped[bytes] = mapped_column(LargeBinary)  # under the STAFF key
    # An address the reporter left to be told of a reply (under the CASE key, field
    # "notify_email"): never stored in plaintext, opened only by a handler's session.
    notify_email_ct: Mapped[bytes | None] = mapped_column(LargeBinary)

    body: Mapped[Body] = relationship()
    assignee: Mapped[Account | None] = relationship()
    messages: Mapped[list[Message]] = relationship(
        back_populates="case", order_by="Message.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="case", order_by="Attachment.position", cascade="all, delete-orphan"
    )

    @property
    def is_information_track(self) -> bool:
        return self.track == Track.INFORMATION


class CaseKeyWrap(Base):
    """One of a case's keys, wrapped to one recipient's X25519 public key.

    Access is enforced by these rows: a handler with no wrap cannot decrypt the case, whatever
    the application's checks say.
    """

    __tablename__ = "case_key_wrap"
    __table_args__ = (
        UniqueConstraint("case_id", "purpose", "recipient"),
        Index("ix_case_key_wrap_account_case", "account_id", "case_id"),
        Index("ix_case_key_wrap_account_status", "account_id", "purpose", "case_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))
    # "account:<id>", "recovery:<body id>" or "reporter": unique per case and purpose.
    recipient: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    body_id: Mapped[int | None] = mapped_column(ForeignKey("body.id"))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    # The case's status, copied onto the CASE wraps of the handlers of the case's own body, so
    # that the board counts a handler's cases per status from one index instead of joining
    # every wrap to its case (346 ms → 4 ms for 50 000 cases: benchmarks/bench_case_list.py).
    # NULL on every other wrap: recovery, reporter, the STAFF and IDENTITY keys, and a handler
    # who kept read access to a case transferred to another body. keyring.wrap_for_account sets
    # it, lifecycle.move (through set_status) keeps it in step with cases.status.
    case_status: Mapped[str | None] = mapped_column(String(32))


class Author(enum.StrEnum):
    REPORTER = "reporter"
    STAFF = "staff"


class MessageKind(enum.StrEnum):
    MESSAGE = "message"  # conversation with the reporter, under the CASE key
    QUESTION = "question"  # a handler asks the reporter for more information (CASE key)
    DECISION = "decision"  # the reasons of a resolution or non-acceptance (CASE key)
    NOTE = "note"  # internal to the handlers, under the STAFF key: the reporter cannot open it


class Message(Base):
    """One entry of a case's conversation, or an internal note of the handlers."""

    __tablename__ = "case_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default=MessageKind.MESSAGE)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    sent_on: Mapped[dt.date]
    # Only for staff messages: a reporter's action is never timed more precisely than the day.
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)

    case: Mapped[Case] = relationship(back_populates="messages")
    account: Mapped[Account | None] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", order_by="Attachment.position"
    )


class Attachment(Base):
    """A file, sealed in STREAM chunks under the CASE key; its name and type are sealed too."""

    __tablename__ = "attachment"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_message.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(default=0)
    uploaded_on: Mapped[dt.date]
    meta_ct: Mapped[bytes] = mapped_column(LargeBinary)  # JSON: name, type, size, cleaning
    stream_header: Mapped[bytes] = mapped_column(LargeBinary)
    chunk_count: Mapped[int]

    case: Mapped[Case] = relationship(back_populates="attachments")
    message: Mapped[Message | None] = relationship(back_populates="attachments")


class AttachmentChunk(Base):
    __tablename__ = "attachment_chunk"

    attachment_id: Mapped[str] = mapped_column(
        ForeignKey("attachment.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ReferenceCounter(Base):
    """Last reference number issued per body and year (CD-2026-0007)."""

    __tablename__ = "reference_counter"

    body_id: Mapped[int] = mapped_column(ForeignKey("body.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)
