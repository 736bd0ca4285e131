"""The rate limiter's name for a client (service/sealing/addresses.py): a keyed hash of the
address that nobody without SECRET_KEY can link to an address, and that changes every day."""

from __future__ import annotations

import datetime as dt

from service.sealing.addresses import address_tag

SECRET = "x" * 8 + "a-test-secret-of-enough-length-0123456789"
DAY = dt.date(2026, 3, 14)


def test_the_tag_is_stable_for_a_day_and_hides_the_address():
    tag = address_tag(SECRET, "203.0.113.77", DAY)
    assert tag == address_tag(SECRET, "203.0.113.77", DAY)
    assert len(tag) == 32 and int(tag, 16) >= 0
    assert tag != address_tag(SECRET, "203.0.113.78", DAY)


def test_the_tag_changes_with_the_day_and_with_the_secret():
    tag = address_tag(SECRET, "203.0.113.77", DAY)
    assert tag != address_tag(SECRET, "203.0.113.77", DAY + dt.timedelta(days=1))
    assert tag != address_tag(SECRET + "!", "203.0.113.77", DAY)
