"""What a session row keeps, sealed under the key only its cookie carries.

The row id is the associated data, so a sealed blob cannot be moved to another session's row.
"""

from __future__ import annotations

import crypto


def seal_for_cookie(cookie_key: bytes, row_id: str, secret: bytes) -> bytes:
    return crypto.seal(cookie_key, secret, row_id.encode())


def open_with_cookie(cookie_key: bytes, row_id: str, sealed: bytes) -> bytes | None:
    """The sealed secret, or None if this cookie's key does not open it."""
    try:
        return crypto.open_sealed(cookie_key, sealed, row_id.encode())
    except crypto.CryptoError:
        return None
