"""Stored formats survive the move of sealing behind service/sealing/ (no migration).

Rows already in a database were sealed by code that called the primitives directly. Each value
here was sealed that way (the old expressions are spelled out with the primitives, as the old
code wrote them, and the hex constants were produced by them before the change); the sealers
of service.sealing must open them, and what they seal must open the old way.
This file is about formats, so it may use `crypto` itself.
"""

from __future__ import annotations

import json

import pytest

import crypto
from service.mail import outbox
from service.models import Account, OutboxMessage
from service.people import twofactor
from service.people.sessions import SessionToken
from service.platform.db import get_database
from service.platform.settings import SERVER_SECRET_INFO
from service.sealing import SealingError, cookies, receipts, recovery, server, staff_keys
from service.sealing.profiles import FAST
from service.sealing.spool import SpoolSealer

SECRET_KEY = "a SECRET_KEY that sealed rows before the change"
ACCOUNT_ID = 7
TOTP_SECRET = "JBSWY3DPEHPK3PXP"
MESSAGE_ID = "<0123456789abcdef0123456789abcdef@homthu.test>"
ADDRESS = "bao.cao@thu-rieng.test"
BODIES = {"text": "t", "html": "h"}
COOKIE_KEY = bytes(range(32))
ROW_ID = "ab" * 32

# Sealed before the change, with the expressions below (random nonces: fixed here once).
OLD_TOTP = bytes.fromhex(
    "01ab9ff16cf41c9e1d33cebd3e4ef42ca40da683055c6ae3063a8ea141f3b80e64c001f1ffc28b8733673404e3"
)
OLD_RECIPIENT = bytes.fromhex(
    "0138322fa6a84457775c41923b041f3e9c5b652e151b52c6ae209e327648bc22d37ec6b4dd33fcc1321f2f07eeea"
    "c27400babd"
)
OLD_BODY = bytes.fromhex(
    "012fcb7e81f0f678db911c737ba82d72f9f5ce3f03cd18d565beac6cb61d97f249b1ce3b0929a9a2b511a9f9c0d6"
    "96ccbc73b47a17e775"
)
OLD_SESSION = bytes.fromhex(
    "0114f8316e06f9206eaef172d216779b71d35f39c1421a410e43dd8a1926a78c1228324c1e25f86eb133"
)


# --- the old code paths, verbatim but for names ---------------------------------------------


def old_totp_key() -> bytes:  # people/twofactor.py: _sealing_key()
    return crypto.derive_subkey(SECRET_KEY.encode(), b"totp secret")


def old_totp_ad() -> bytes:  # people/twofactor.py: _ad(account)
    return f"totp secret of account {ACCOUNT_ID}".encode()


def old_outbox_key(purpose: bytes) -> bytes:  # mail/outbox.py: _outbox_key(purpose)
    return crypto.derive_subkey(SECRET_KEY.encode("utf-8"), b"outbox " + purpose)


def old_outbox_ad(field: str) -> bytes:  # mail/outbox.py: _outbox_ad(message, field)
    return crypto.field_ad(MESSAGE_ID, field)


# --- the server-secret sealer ----------------------------------------------------------------


def test_a_totp_secret_sealed_before_opens_with_the_server_sealer():
    assert server.open_totp_secret(SECRET_KEY, ACCOUNT_ID, OLD_TOTP) == TOTP_SECRET
    fresh = crypto.seal(old_totp_key(), TOTP_SECRET.encode("ascii"), old_totp_ad())
    assert server.open_totp_secret(SECRET_KEY, ACCOUNT_ID, fresh) == TOTP_SECRET


def test_a_totp_secret_sealed_now_opens_the_old_way():
    sealed = server.seal_totp_secret(SECRET_KEY, ACCOUNT_ID, TOTP_SECRET)
    assert crypto.open_sealed(old_totp_key(), sealed, old_totp_ad()) == TOTP_SECRET.encode()


def test_a_totp_secret_is_bound_to_its_account_and_to_secret_key():
    with pytest.raises(SealingError):
        server.open_totp_secret(SECRET_KEY, ACCOUNT_ID + 1, OLD_TOTP)
    with pytest.raises(SealingError):
        server.open_totp_secret("another secret key of sufficient length", ACCOUNT_ID, OLD_TOTP)


def test_twofactor_opens_a_secret_sealed_before(app):
    account = Account(id=ACCOUNT_ID, totp_secret_ct=OLD_TOTP)
    with app.app_context(), get_database(app).session() as session:
        session.info[SERVER_SECRET_INFO] = SECRET_KEY  # what the app's sessions carry
        session.add(account)  # never flushed: the row only needs a session to find the key
        assert twofactor.open_secret(account) == TOTP_SECRET
        resealed = twofactor.seal_secret(account, TOTP_SECRET)
    assert crypto.open_sealed(old_totp_key(), resealed, old_totp_ad()) == TOTP_SECRET.encode()


def test_outbox_fields_sealed_before_open_with_the_server_sealer():
    opened = server.open_outbox_field(SECRET_KEY, MESSAGE_ID, "recipient", OLD_RECIPIENT)
    assert opened == ADDRESS.encode()
    opened = server.open_outbox_field(SECRET_KEY, MESSAGE_ID, "body", OLD_BODY)
    assert json.loads(opened) == BODIES
    for field in ("recipient", "body"):
        fresh = crypto.seal(old_outbox_key(field.encode()), b"value", old_outbox_ad(field))
        assert server.open_outbox_field(SECRET_KEY, MESSAGE_ID, field, fresh) == b"value"


def test_outbox_fields_sealed_now_open_the_old_way():
    for field in ("recipient", "body"):
        sealed = server.seal_outbox_field(SECRET_KEY, MESSAGE_ID, field, b"value")
        key = old_outbox_key(field.encode())
        assert crypto.open_sealed(key, sealed, old_outbox_ad(field)) == b"value"


def test_an_outbox_field_opens_only_as_itself():
    with pytest.raises(SealingError):  # another field: another subkey and another AD
        server.open_outbox_field(SECRET_KEY, MESSAGE_ID, "body", OLD_RECIPIENT)
    with pytest.raises(SealingError):  # another row
        server.open_outbox_field(SECRET_KEY, "<other@homthu.test>", "recipient", OLD_RECIPIENT)
    with pytest.raises(ValueError, match="no sealed outbox field"):
        server.seal_outbox_field(SECRET_KEY, MESSAGE_ID, "subject", b"value")


def test_the_outbox_opens_rows_sealed_before(app):
    message = OutboxMessage(
        message_id=MESSAGE_ID, recipient="reporter", recipient_sealed=OLD_RECIPIENT
    )
    message.body_sealed, message.text_body, message.html_body = OLD_BODY, "(sealed)", None
    with app.app_context(), get_database(app).session() as session:
        session.info[SERVER_SECRET_INFO] = SECRET_KEY
        session.add(message)
        assert outbox.delivery_address(message) == ADDRESS
        assert outbox.delivery_bodies(message) == ("t", "h")


# --- session rows, sealed under the cookie's key ---------------------------------------------


def test_a_session_row_sealed_before_opens_with_its_cookie():
    assert cookies.open_with_cookie(COOKIE_KEY, ROW_ID, OLD_SESSION) == b"a private key"
    assert SessionToken(ROW_ID, COOKIE_KEY).open(OLD_SESSION) == b"a private key"
    assert SessionToken("cd" * 32, COOKIE_KEY).open(OLD_SESSION) is None


def test_a_session_row_sealed_now_opens_the_old_way():
    sealed = SessionToken(ROW_ID, COOKIE_KEY).seal(b"secret")
    assert crypto.open_sealed(COOKIE_KEY, sealed, ROW_ID.encode()) == b"secret"


# --- keys and receipts: the sealing functions are the primitives' formats ------------------------


def test_a_private_key_locked_before_unlocks_and_one_locked_now_unlocks_the_old_way():
    private, _ = crypto.generate_keypair()
    old = crypto.wrap_private_key(private, "mật khẩu", FAST)
    assert staff_keys.unlock_private_key(old, "mật khẩu") == private
    new = staff_keys.new_staff_keys("mật khẩu", FAST)
    assert crypto.unwrap_private_key(new.locked_private_key, "mật khẩu") == new.private_key
    assert crypto.public_key_of(new.private_key) == new.public_key
    assert crypto.verify_password("mật khẩu", new.password_hash)
    assert staff_keys.check_password("mật khẩu", crypto.hash_password("mật khẩu", FAST))


def test_a_recovery_code_is_the_primitives_code():
    key = recovery.new_recovery_key()
    private = crypto.decode_recovery_code(key.paper_code)
    assert crypto.public_key_of(private) == key.public_key
    assert recovery.open_paper_code(key.paper_code.lower(), key.public_key) == private
    with pytest.raises(SealingError):
        recovery.open_paper_code(key.paper_code, recovery.new_recovery_key().public_key)


def test_reporter_keys_are_derived_as_before():
    salt = bytes(16)
    assert receipts.derive_reporter_keys("1234 5678 9012 3456", salt, FAST) == (
        crypto.derive_reporter_keys("1234567890123456", salt, FAST)
    )


def test_the_spool_is_a_stream_under_its_own_label():
    sealer = SpoolSealer()
    first, last = sealer.seal_chunk(b"a" * 10, last=False), sealer.seal_chunk(b"b", last=True)
    # The key and header live only in the sealer: read them as the old EncryptedSpool did.
    old_opener = crypto.StreamOpener(sealer._key, sealer._sealer.header, b"homthu upload spool v1")
    assert old_opener.open_chunk(first, last=False) == b"a" * 10
    assert old_opener.open_chunk(last, last=True) == b"b"
    old_opener.finish()
