"""A client's network address as the rate limiter sees it: a keyed hash that changes every day.

The limiter (service/web/limits.py) counts requests per address, so it needs a key per client,
but the design stores and logs no reporter's address. The address is hashed with HMAC-SHA256
under a key derived from SECRET_KEY and the UTC date: without SECRET_KEY the tag cannot be
tested against a guessed address (IPv4 has only 2^32 of them), and tomorrow's tags cannot be
linked to today's — a tag lives at most a day, like the counters it names. (A counter window
that spans midnight UTC restarts then: a small gift to an attacker, once a day.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import crypto

_LABEL = b"rate limit address "  # + the UTC date, ISO format


def address_tag(server_secret: str, address: str, day: dt.date) -> str:
    """The limiter's key for `address` on `day`: 32 hex digits, the same all day, then never."""
    key = crypto.derive_subkey(server_secret.encode("utf-8"), _LABEL + day.isoformat().encode())
    return hmac.new(key, address.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
