"""THE sealer for values only the server may read: AES-256-GCM under an HKDF subkey of
SECRET_KEY, one subkey per named purpose.

Three kinds of stored value use it: an account's TOTP secret, a reporter's notify address on an
outbox row, and the bodies of mail that carries a secret link. A copy of the database alone
opens none of them; changing SECRET_KEY makes all of them unreadable (SealingError on opening).

The secret is a parameter, not read from the application here: callers pass SECRET_KEY, which
every session of the application carries (`server_secret_of` reads it from the session a row
belongs to, so domain code never reaches for `current_app`).
The formats are fixed: the HKDF labels and associated data below are what rows already in the
database were sealed with (tests/crypto/test_sealing_formats.py pins them).
"""

from __future__ import annotations

from sqlalchemy.orm import object_session

import crypto
from service.platform.settings import SERVER_SECRET_INFO

# HKDF labels ("homthu subkey v1 " is prefixed by crypto.derive_subkey).
_TOTP_SECRET = b"totp secret"
_OUTBOX = b"outbox "  # + the field: b"outbox recipient", b"outbox body"
OUTBOX_FIELDS = ("recipient", "body")


def server_secret_of(row: object) -> str:
    """SECRET_KEY, as carried by the session `row` belongs to (see service/platform/db.py)."""
    session = object_session(row)
    if session is None or SERVER_SECRET_INFO not in session.info:
        raise RuntimeError("this row belongs to no application session: use get_database()")
    secret: str = session.info[SERVER_SECRET_INFO]
    return secret


def _subkey(server_secret: str, label: bytes) -> bytes:
    return crypto.derive_subkey(server_secret.encode("utf-8"), label)


# --- an account's TOTP secret --------------------------------------------------------------


def _totp_ad(account_id: int) -> bytes:
    return f"totp secret of account {account_id}".encode()


def seal_totp_secret(server_secret: str, account_id: int, totp_secret: str) -> bytes:
    return crypto.seal(
        _subkey(server_secret, _TOTP_SECRET), totp_secret.encode("ascii"), _totp_ad(account_id)
    )


def open_totp_secret(server_secret: str, account_id: int, sealed: bytes) -> str:
    """The TOTP secret; SealingError if it does not open (e.g. SECRET_KEY changed)."""
    key = _subkey(server_secret, _TOTP_SECRET)
    return crypto.open_sealed(key, sealed, _totp_ad(account_id)).decode()


# --- fields of an outbox row ---------------------------------------------------------------


def _outbox_key(server_secret: str, field: str) -> bytes:
    if field not in OUTBOX_FIELDS:
        raise ValueError(f"no sealed outbox field {field!r}")
    return _subkey(server_secret, _OUTBOX + field.encode("ascii"))


def seal_outbox_field(server_secret: str, message_id: str, field: str, value: bytes) -> bytes:
    """`value` of outbox row `message_id`'s `field` ("recipient" or "body"), sealed."""
    key = _outbox_key(server_secret, field)
    return crypto.seal(key, value, crypto.field_ad(message_id, field))


def open_outbox_field(server_secret: str, message_id: str, field: str, sealed: bytes) -> bytes:
    """Reverse seal_outbox_field(); SealingError if it does not open (SECRET_KEY changed)."""
    key = _outbox_key(server_secret, field)
    return crypto.open_sealed(key, sealed, crypto.field_ad(message_id, field))
