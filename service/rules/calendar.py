"""Counting days the way Vietnamese law counts them.

Working days skip Saturdays, Sundays and public holidays — including Tết, observed days and
substituted days off — as listed by the `holidays` package for Vietnam.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _holidays_of(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("VN", years=year))


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _holidays_of(day.year)


def add_working_days(start: dt.date, count: int) -> dt.date:
    """The `count`-th working day after `start` (the day of receipt itself does not count)."""
    if count < 0:
        raise ValueError("count must not be negative")
    day = start
    while count:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            count -= 1
    return day


def add_calendar_days(start: dt.date, count: int) -> dt.date:
    return start + dt.timedelta(days=count)


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after `start` up to and including `end` (negative if `end` is earlier)."""
    if end < start:
        return -working_days_between(end, start)
    return sum(
        1
        for offset in range(1, (end - start).days + 1)
        if is_working_day(start + dt.timedelta(days=offset))
    )
