"""Server-side sessions whose secrets open only with a key held in the browser's cookie.

The row holds the unlocked private key (staff) or the reporter's key (follow-up) sealed under a
random per-session key that exists only in the cookie. A database dump without live cookies
opens nothing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime


class StaffSession(Base):
    __tablename__ = "staff_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the cookie's id
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # "full", or "enrol": the password was right but the two-step login is not set up yet.
    stage: Mapped[str] = mapped_column(String(16), default="full", server_default="full")
    # Set (and `sealed` emptied) when the session was ended for its owner: "deactivated",
    # "password_changed", "password_reset". The next request says why, then the row goes.
    ended: Mapped[str | None] = mapped_column(String(32))


class ReporterSession(Base):
    """A reporter's follow-up session.

    Which case it opens and when it expires are inside ``sealed``: the row itself says nothing
    about who is active or when, beyond the day after which it may be purged.
    """

    __tablename__ = "reporter_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    purge_after: Mapped[dt.date]


class SpentFormToken(Base):
    """A report form that was sent: the keyed hash of its one-time token, so a reload or a
    double click files nothing more.

    Only the hash and the day after which the row may be purged: nothing says when it was sent
    or by whom, and no column points at the case it filed.
    """

    __tablename__ = "spent_form_token"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purge_after: Mapped[dt.date]
