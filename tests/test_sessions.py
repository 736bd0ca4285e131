"""Server-side sessions: what the database holds opens nothing without the cookie."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from service.models import ReporterSession, StaffSession
from service.people.sessions import (
    OpenStaffSession,
    ReporterAccess,
    SessionToken,
    StaffSessionPolicy,
    create_reporter_session,
    create_staff_session,
    load_reporter_session,
    load_staff_session,
    purge_expired_sessions,
)

T0 = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)
POLICY = StaffSessionPolicy(idle=dt.timedelta(minutes=30), absolute=dt.timedelta(hours=8))
IDLE = dt.timedelta(minutes=15)


def test_the_staff_session_row_holds_the_private_key_only_sealed(db, world):
    staff = world["cd_handler"]
    private_key = staff.private_key()
    cookie = create_staff_session(db, staff.account, private_key, POLICY, T0)
    db.commit()
    row = db.scalars(select(StaffSession)).one()
    assert private_key not in row.sealed
    assert row.id != cookie.split(".")[0]  # the database keeps a hash of the id only
    opened = load_staff_session(db, cookie, POLICY, T0 + dt.timedelta(minutes=5))
    assert isinstance(opened, OpenStaffSession)
    assert opened.private_key == private_key and opened.account.id == staff.account.id


def test_a_staff_session_ends_when_idle_or_too_old(db, world):
    staff = world["cd_handler"]
    cookie = create_staff_session(db, staff.account, staff.private_key(), POLICY, T0)
    db.commit()
    assert load_staff_session(db, cookie, POLICY, T0 + dt.timedelta(minutes=31)) is None
    assert db.scalar(select(func.count()).select_from(StaffSession)) == 0
    cookie = create_staff_session(db, staff.account, staff.private_key(), POLICY, T0)
    db.commit()
    for minutes in range(25, 8 * 60, 25):  # active all day
        assert load_staff_session(db, cookie, POLICY, T0 + dt.timedelta(minutes=minutes))
    assert load_staff_session(db, cookie, POLICY, T0 + dt.timedelta(hours=8)) is None


def test_a_cookie_with_the_wrong_key_opens_nothing(db, world):
    staff = world["cd_handler"]
    cookie = create_staff_session(db, staff.account, staff.private_key(), POLICY, T0)
    db.commit()
    row_id, _key = cookie.split(".")
    forged = f"{row_id}.{SessionToken.new()[1].split('.')[1]}"
    assert load_staff_session(db, forged, POLICY, T0) is None


def test_the_reporter_session_row_says_neither_which_case_nor_when(db, world):
    access = ReporterAccess("ab" * 16, b"k" * 32)
    cookie = create_reporter_session(db, access, IDLE, T0)
    db.commit()
    row = db.scalars(select(ReporterSession)).one()
    assert b"ab" * 16 not in row.sealed and b"k" * 32 not in row.sealed
    assert [c.name for c in ReporterSession.__table__.columns] == ["id", "sealed", "purge_after"]
    assert load_reporter_session(db, cookie, IDLE, T0 + dt.timedelta(minutes=14)) == access
    # Each use restarts the idle clock...
    assert load_reporter_session(db, cookie, IDLE, T0 + dt.timedelta(minutes=28)) == access
    # ...and fifteen quiet minutes end it.
    assert load_reporter_session(db, cookie, IDLE, T0 + dt.timedelta(minutes=44)) is None


def test_purging_removes_only_what_has_expired(db, world):
    staff = world["cd_handler"]
    create_staff_session(db, staff.account, staff.private_key(), POLICY, T0)
    create_reporter_session(db, ReporterAccess("cd" * 16, b"x" * 32), IDLE, T0)
    db.commit()
    assert purge_expired_sessions(db, T0 + dt.timedelta(hours=1)) == (0, 0)
    assert purge_expired_sessions(db, T0 + dt.timedelta(days=3)) == (1, 1)
    assert db.scalar(select(func.count()).select_from(ReporterSession)) == 0
