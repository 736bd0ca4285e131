"""Invitations to set a password, and one-time recovery codes of the two-step login."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import Base, UTCDateTime
from service.models.org import Account, Body


class InvitationPurpose(enum.StrEnum):
    INVITE = "invite"  # a new handler, chair or administrator
    RESET = "reset"  # an administrator's password reset: new keys, no old access


class Invitation(Base):
    """A one-time link sent by mail. Only SHA-256 of its token is stored."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    body_id: Mapped[int | None] = mapped_column(ForeignKey("body.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))  # reset only
    created_by: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    body: Mapped[Body | None] = relationship()
    account: Mapped[Account | None] = relationship(foreign_keys=[account_id])

    def is_open(self, now: dt.datetime) -> bool:
        return self.used_at is None and self.revoked_at is None and now < self.expires_at


class RecoveryCode(Base):
    """One of an account's one-time codes for a login without the authenticator app."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
