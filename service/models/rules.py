"""Configurable rules of an organisation: categories, routing and legal deadlines."""

from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import Base
from service.models.org import Body


class Category(Base):
    """A subject area a reporter can pick (working conditions, finances, ...)."""

    __tablename__ = "category"
    __table_args__ = (UniqueConstraint("organisation_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name_vi: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_vi


class RoutingRule(Base):
    """(kind, category) → body, for reports whose reporter let the system choose.

    A NULL kind or category matches any; the most specific matching rule wins.
    """

    __tablename__ = "routing_rule"
    __table_args__ = (UniqueConstraint("organisation_id", "kind", "category_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    kind: Mapped[str | None] = mapped_column(String(32))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    body_id: Mapped[int] = mapped_column(ForeignKey("body.id"))

    body: Mapped[Body] = relationship()


class DeadlineStage(enum.StrEnum):
    ACKNOWLEDGE = "acknowledge"  # tiếp nhận
    ACCEPT = "accept"  # thụ lý (complaints) / phân loại (denunciations)
    RESOLVE = "resolve"  # giải quyết


class DayUnit(enum.StrEnum):
    WORKING = "working"
    CALENDAR = "calendar"


class ClockStart(enum.StrEnum):
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"


class DeadlineRule(Base):
    """How long one stage of one kind of case may take, and how often it may be extended."""

    __tablename__ = "deadline_rule"
    __table_args__ = (UniqueConstraint("organisation_id", "kind", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    stage: Mapped[str] = mapped_column(String(16))
    days: Mapped[int]
    unit: Mapped[str] = mapped_column(String(16))
    starts_from: Mapped[str] = mapped_column(String(16))
    max_extensions: Mapped[int] = mapped_column(default=0)
    extension_days: Mapped[int] = mapped_column(default=0)
    legal_basis: Mapped[str] = mapped_column(String(200), default="")


class RetentionPeriod(Base):
    """How long a case in a final status keeps its content before `retention apply` shreds it.

    Counted in months from the day the case reached the status (closed_on, decided_on).
    NULL months: kept until an administrator sets a period.
    """

    __tablename__ = "retention_period"
    __table_args__ = (UniqueConstraint("organisation_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    months: Mapped[int | None]
