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
