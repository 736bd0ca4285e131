"""Counting days as the law counts them: weekends, Tết, observed and substituted holidays."""

from __future__ import annotations

import datetime as dt

import pytest

from service.rules.calendar import add_working_days, is_working_day, working_days_between
from service.rules.policy import count_days

D = dt.date


@pytest.mark.parametrize(
    ("start", "count", "due"),
    [
        (D(2026, 11, 27), 1, D(2026, 11, 30)),  # Friday → Monday
        (D(2026, 11, 27), 10, D(2026, 12, 11)),  # two weekends
        (D(2026, 11, 28), 1, D(2026, 11, 30)),  # received on a Saturday
        # Tết 2026: 16–20 February (Mon–Fri) are all holidays.
        (D(2026, 2, 13), 1, D(2026, 2, 23)),
        (D(2026, 2, 10), 10, D(2026, 3, 3)),
        # Tết 2027: 4–10 February, over a weekend.
        (D(2027, 2, 3), 1, D(2027, 2, 11)),
        (D(2027, 2, 1), 10, D(2027, 2, 22)),
        # Hùng Kings 2026 fell on a Sunday: observed on Monday 27 April.
        (D(2026, 4, 24), 1, D(2026, 4, 28)),
        # 30 April and 1 May 2026 (Thu, Fri), then the weekend.
        (D(2026, 4, 29), 1, D(2026, 5, 4)),
        # 1 May 2027 is a Saturday: observed on Monday 3 May.
        (D(2027, 4, 29), 1, D(2027, 5, 4)),
        # 31 August 2026: a day off substituted for Saturday 22 August.
        (D(2026, 8, 28), 1, D(2026, 9, 3)),
        # Across the new year.
        (D(2026, 12, 31), 1, D(2027, 1, 4)),
        (D(2026, 11, 27), 0, D(2026, 11, 27)),
    ],
)
def test_working_days_skip_weekends_and_public_holidays(start, count, due):
    assert add_working_days(start, count) == due


@pytest.mark.parametrize(
    "day",
    [D(2026, 2, 16), D(2026, 2, 20), D(2027, 2, 8), D(2026, 4, 27), D(2027, 5, 3), D(2026, 8, 31)],
)
def test_holidays_and_their_substitutes_are_not_working_days(day):
    assert not is_working_day(day)


def test_working_days_between_counts_what_add_working_days_adds():
    for count in (0, 1, 7, 10, 15, 30):
        start = D(2026, 2, 10)
        assert working_days_between(start, add_working_days(start, count)) == count


def test_calendar_days_count_holidays_too():
    assert count_days(D(2026, 2, 13), 10, "calendar") == D(2026, 2, 23)
    assert count_days(D(2026, 2, 13), 10, "working") == D(2026, 3, 6)


def test_negative_counts_are_refused():
    with pytest.raises(ValueError, match="must not be negative"):
        add_working_days(D(2026, 1, 1), -1)
