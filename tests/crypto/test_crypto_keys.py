"""X25519 key pairs, key wrapping to public keys, password-wrapped private keys."""

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import (
    FAST,
    CryptoError,
    KdfProfile,
    generate_keypair,
    new_data_key,
    public_key_of,
    seal,
    unwrap_key,
    unwrap_private_key,
    wrap_key,
    wrap_private_key,
    wrapped_key_profile,
)

PROPERTY = settings(max_examples=50, deadline=None)
CONTEXT = b"case 3f9c2a7d1e8b4c6a9d0e1f2a3b4c5d6e key case"
# Low-order points of Curve25519: an exchange with any of them gives an all-zero shared secret.
LOW_ORDER_POINTS = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
]


def flipped(blob: bytes, position: int, mask: int = 0x01) -> bytes:
    return blob[:position] + bytes([blob[position] ^ mask]) + blob[position + 1 :]


def test_a_keypair_is_two_raw_32_byte_keys_that_belong_together():
    private, public = generate_keypair()
    assert len(private) == len(public) == 32
    assert public_key_of(private) == public


def test_every_keypair_is_fresh():
    assert len({generate_keypair()[0] for _ in range(20)}) == 20


def test_a_private_key_of_the_wrong_size_is_refused():
    with pytest.raises(CryptoError):
        public_key_of(bytes(31))


def test_a_wrapped_key_unwraps_with_the_recipients_private_key():
    private, public = generate_keypair()
    key = new_data_key()
    assert unwrap_key(private, wrap_key(public, key, CONTEXT), CONTEXT) == key


@PROPERTY
@given(key=st.binary(min_size=32, max_size=32), context=st.binary(max_size=100))
def test_wrap_then_unwrap_returns_the_key(key, context):
    private, public = generate_keypair()
    assert unwrap_key(private, wrap_key(public, key, context), context) == key


def test_a_wrapped_key_is_version_ephemeral_key_nonce_and_ciphertext():
    _, public = generate_keypair()
    wrapped = wrap_key(public, new_data_key(), CONTEXT)
    assert wrapped[0] == 1
    assert len(wrapped) == 1 + 32 + 12 + 32 + 16


def test_wrapping_twice_uses_a_fresh_ephemeral_key():
    _, public = generate_keypair()
    key = new_data_key()
    assert wrap_key(public, key, CONTEXT)[1:33] != wrap_key(public, key, CONTEXT)[1:33]


def test_another_recipients_private_key_cannot_unwrap():
    _, public = generate_keypair()
    someone_else, _ = generate_keypair()
    with pytest.raises(CryptoError):
        unwrap_key(someone_else, wrap_key(public, new_data_key(), CONTEXT), CONTEXT)


def test_a_wrap_moved_to_another_context_fails():
    private, public = generate_keypair()
    wrapped = wrap_key(public, new_data_key(), CONTEXT)
    with pytest.raises(CryptoError):
        unwrap_key(private, wrapped, CONTEXT + b"x")


def test_a_flipped_byte_anywhere_in_a_wrapped_key_fails():
    private, public = generate_keypair()
    wrapped = wrap_key(public, new_data_key(), CONTEXT)
    for position in range(len(wrapped)):
        with pytest.raises(CryptoError):
            unwrap_key(private, flipped(wrapped, position), CONTEXT)


def test_every_truncation_and_an_appended_byte_of_a_wrapped_key_fail():
    private, public = generate_keypair()
    wrapped = wrap_key(public, new_data_key(), CONTEXT)
    for length in range(len(wrapped)):
        with pytest.raises(CryptoError):
            unwrap_key(private, wrapped[:length], CONTEXT)
    with pytest.raises(CryptoError):
        unwrap_key(private, wrapped + b"\x00", CONTEXT)


@pytest.mark.parametrize("point", LOW_ORDER_POINTS)
def test_wrapping_to_a_low_order_public_key_is_refused(point):
    with pytest.raises(CryptoError):
        wrap_key(point, new_data_key(), CONTEXT)


@pytest.mark.parametrize("point", LOW_ORDER_POINTS)
def test_a_wrap_whose_ephemeral_key_is_a_low_order_point_is_refused(point):
    private, public = generate_keypair()
    wrapped = wrap_key(public, new_data_key(), CONTEXT)
    with pytest.raises(CryptoError):
        unwrap_key(private, wrapped[:1] + point + wrapped[33:], CONTEXT)


def test_only_32_byte_keys_are_wrapped():
    _, public = generate_keypair()
    with pytest.raises(CryptoError):
        wrap_key(public, bytes(16), CONTEXT)
    with pytest.raises(CryptoError):
        wrap_key(public[:31], new_data_key(), CONTEXT)


def test_a_private_key_wrapped_under_a_password_unwraps_with_it():
    private, _ = generate_keypair()
    blob = wrap_private_key(private, "mật khẩu của tôi", FAST)
    assert unwrap_private_key(blob, "mật khẩu của tôi") == private


@PROPERTY
@given(password=st.text(max_size=40))
def test_any_password_wraps_and_unwraps(password):
    private, _ = generate_keypair()
    assert unwrap_private_key(wrap_private_key(private, password, FAST), password) == private


def test_a_wrong_password_fails():
    private, _ = generate_keypair()
    blob = wrap_private_key(private, "mật khẩu của tôi", FAST)
    with pytest.raises(CryptoError):
        unwrap_private_key(blob, "mat khau cua toi")


def test_the_password_is_compared_after_unicode_normalisation():
    private, _ = generate_keypair()
    blob = wrap_private_key(private, unicodedata.normalize("NFC", "Hoàng"), FAST)
    assert unwrap_private_key(blob, unicodedata.normalize("NFD", "Hoàng")) == private


def test_the_wrapped_private_key_records_its_profile():
    private, _ = generate_keypair()
    stronger = KdfProfile(memory_kib=64, iterations=2)
    assert wrapped_key_profile(wrap_private_key(private, "pw", FAST)) == FAST
    assert wrapped_key_profile(wrap_private_key(private, "pw", stronger)) == stronger


def test_a_private_key_can_be_rewrapped_under_a_stronger_profile():
    private, _ = generate_keypair()
    old = wrap_private_key(private, "pw", FAST)
    stronger = KdfProfile(memory_kib=64, iterations=2)
    new = wrap_private_key(unwrap_private_key(old, "pw"), "pw", stronger)
    assert wrapped_key_profile(new) == stronger
    assert unwrap_private_key(new, "pw") == private


def test_wrapping_the_same_private_key_twice_uses_fresh_salts():
    private, _ = generate_keypair()
    assert wrap_private_key(private, "pw", FAST) != wrap_private_key(private, "pw", FAST)


def test_a_flipped_byte_anywhere_in_a_wrapped_private_key_fails():
    private, _ = generate_keypair()
    blob = wrap_private_key(private, "pw", FAST)
    for position in range(len(blob)):
        with pytest.raises(CryptoError):
            unwrap_private_key(flipped(blob, position), "pw")


def test_every_truncation_of_a_wrapped_private_key_fails():
    private, _ = generate_keypair()
    blob = wrap_private_key(private, "pw", FAST)
    for length in range(len(blob)):
        with pytest.raises(CryptoError):
            unwrap_private_key(blob[:length], "pw")


def test_a_wrapped_private_key_asking_for_absurd_memory_is_refused():
    private, _ = generate_keypair()
    profile_text = b"argon2id:m=4294967295,t=1,p=1"
    blob = b"\x01" + bytes([len(profile_text)]) + profile_text + bytes(16) + seal(private, b"", b"")
    with pytest.raises(CryptoError):
        unwrap_private_key(blob, "pw")


@pytest.mark.parametrize(
    "blob", [b"", b"\x01", b"\x02\x00", b"\x01\x05abcde" + bytes(16), b"\x01\xff"]
)
def test_the_profile_of_a_damaged_wrapped_key_is_a_crypto_error(blob):
    with pytest.raises(CryptoError):
        wrapped_key_profile(blob)
