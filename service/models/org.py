"""Organisations, their handling bodies and the staff accounts that belong to them."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import Base, UTCDateTime


class BodyKind(enum.StrEnum):
    TRADE_UNION = "trade_union"  # Công đoàn
    INSPECTION_BOARD = "inspection_board"  # Ban Thanh tra nhân dân
    HEAD_OF_UNIT = "head_of_unit"  # Thủ trưởng đơn vị


class Role(enum.StrEnum):
    HANDLER = "handler"
    CHAIR = "chair"
    ADMIN = "admin"


class Organisation(Base):
    """A public-service unit. Every row that belongs to a unit carries its id."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    is_demo: Mapped[bool] = mapped_column(default=False)
    # Where the unit is, as reports are dated ("Khánh Hòa, ngày … tháng … năm …").
    place_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # Salt and Argon2id profile of receipt derivations: one per organisation, so a receipt can be
    # looked up with one derivation.
    receipt_salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    receipt_kdf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    bodies: Mapped[list[Body]] = relationship(
        back_populates="organisation", order_by="Body.position"
    )


class Body(Base):
    """An organ that handles cases: the Trade Union, the Inspection Board, the head of unit."""

    __tablename__ = "body"
    __table_args__ = (UniqueConstraint("organisation_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    code: Mapped[str] = mapped_column(String(16))  # prefix of case references: CD, TTND
    kind: Mapped[str] = mapped_column(String(32))
    name_vi: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    # Public half of the body's recovery key; the private half exists only on the chair's paper.
    recovery_public_key: Mapped[bytes] = mapped_column(LargeBinary(32))

    organisation: Mapped[Organisation] = relationship(back_populates="bodies")

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_vi


class Account(Base):
    """A staff member: handler, chair or administrator."""

    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("organisation_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    body_id: Mapped[int | None] = mapped_column(ForeignKey("body.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    # X25519 key pair: cases are wrapped to the public key; the private key is stored wrapped by
    # a key derived from the password (own salt), so only a logged-in session can open it.
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    wrapped_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    # Two-step login (TOTP). The secret is sealed (service/people/twofactor.py), never stored in
    # clear; enrolled once the first code was confirmed. The last accepted time step refuses a
    # replay.
    totp_secret_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enrolled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None]
    # Throttling: failures since the last success, and the moment the next attempt is heard.
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    organisation: Mapped[Organisation] = relationship()
    body: Mapped[Body | None] = relationship()

    @property
    def totp_enrolled(self) -> bool:
        return self.totp_enrolled_at is not None

    @property
    def is_handler(self) -> bool:
        return self.role in (Role.HANDLER, Role.CHAIR)

    @property
    def is_chair(self) -> bool:
        return self.role == Role.CHAIR


class SummaryRecipient(Base):
    """Someone who receives the monthly summaries and the 6-month / annual reports: numbers only.

    Management (lãnh đạo) and the administration department (bộ phận hành chính). Chairs get their
    own body's summary without a row here.
    """

    __tablename__ = "summary_recipient"
    __table_args__ = (UniqueConstraint("organisation_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    # "management" or "administration": the administration department also gets the reports
    # as editable documents and the reminders before 10 May and 10 November.
    kind: Mapped[str] = mapped_column(String(32), default="management")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
