"""Publication (công khai) of the result of handling a case (Law on Grassroots Democracy,
Arts. 46–48).

A handler drafts a public summary; the draft is sealed under the case's STAFF key like any
internal note. Only when the chair approves it does its text enter this table in plaintext:
the one deliberate exception to "nothing a person wrote is stored in plaintext", because the
law publishes it to everyone. Until then `public_text` is NULL.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import Base
from service.models.org import Body


class PublicationStatus(enum.StrEnum):
    DRAFT = "draft"  # sealed, waiting for the chair
    APPROVED = "approved"  # public on /results
    WITHDRAWN = "withdrawn"  # taken down by the chair after the legal period


class Publication(Base):
    __tablename__ = "publication"
    __table_args__ = (Index("ix_publication_organisation_status", "organisation_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    body_id: Mapped[int] = mapped_column(ForeignKey("body.id"))
    status: Mapped[str] = mapped_column(String(16), default=PublicationStatus.DRAFT)
    # Bumped by every redraft: the chair approves the revision they read, not a later one.
    revision: Mapped[int] = mapped_column(default=1)
    draft_ct: Mapped[bytes] = mapped_column(LargeBinary)  # under the STAFF key
    drafted_by: Mapped[int] = mapped_column(ForeignKey("account.id"))
    drafted_on: Mapped[dt.date]
    # Plaintext, and only once approved: the published text (see the module's docstring).
    public_text: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    approved_on: Mapped[dt.date | None]
    public_until: Mapped[dt.date | None]  # the earliest day the chair may withdraw it
    withdrawn_by: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    withdrawn_on: Mapped[dt.date | None]

    body: Mapped[Body] = relationship()
