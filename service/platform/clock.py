"""Time, in one place: UTC instants for staff actions, local dates for reporters.

A reporter's actions are recorded with day precision only (DESIGN.md, Anonymity), in the
organisation's local calendar, so "received on" means the same day the reporter saw.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def local_today(now: dt.datetime | None = None) -> dt.date:
    return (now or utcnow()).astimezone(LOCAL_TZ).date()


def start_of_local_day(now: dt.datetime | None = None) -> dt.datetime:
    """Midnight of the local day, as an instant: the most a reporter's action may say of time."""
    local = (now or utcnow()).astimezone(LOCAL_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)


def next_slot(now: dt.datetime, hours: tuple[int, ...]) -> dt.datetime:
    """The first of the given local hours (on the hour) strictly after `now`.

    Mail caused by a reporter leaves only at these fixed times, so neither its row nor its
    Date header says when the reporter acted, only between which two slots.
    """
    local = now.astimezone(LOCAL_TZ)
    for days_ahead in range(2):
        day = local.date() + dt.timedelta(days=days_ahead)
        for hour in sorted(hours):
            slot = dt.datetime(day.year, day.month, day.day, hour, tzinfo=LOCAL_TZ)
            if slot > local:
                return slot.astimezone(dt.UTC)
    raise ValueError("no delivery hours configured")
