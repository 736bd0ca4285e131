"""Sealing single values: AES-256-GCM with a version byte and associated data."""

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import CryptoError, field_ad, new_data_key, open_sealed, seal

PROPERTY = settings(max_examples=50, deadline=None)
CASE = "3f9c2a7d1e8b4c6a9d0e1f2a3b4c5d6e"
OTHER_CASE = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
keys = st.binary(min_size=32, max_size=32)


def flipped(blob: bytes, position: int, mask: int = 0x01) -> bytes:
    return blob[:position] + bytes([blob[position] ^ mask]) + blob[position + 1 :]


def test_a_sealed_field_opens_with_the_same_key_and_associated_data():
    key = new_data_key()
    ad = field_ad(CASE, "title")
    title = "Góp ý về nhà ăn".encode()
    assert open_sealed(key, seal(key, title, ad), ad) == title


@PROPERTY
@given(key=keys, plaintext=st.binary(max_size=2048), ad=st.binary(max_size=64))
def test_seal_then_open_returns_the_plaintext(key, plaintext, ad):
    assert open_sealed(key, seal(key, plaintext, ad), ad) == plaintext


def test_a_blob_is_version_byte_nonce_ciphertext_and_tag():
    blob = seal(new_data_key(), b"x" * 10, b"")
    assert blob[0] == 1
    assert len(blob) == 1 + 12 + 10 + 16


def test_sealing_the_same_value_twice_gives_unrelated_blobs():
    key = new_data_key()
    assert seal(key, b"same", b"ad") != seal(key, b"same", b"ad")


def test_a_flipped_byte_anywhere_in_a_sealed_field_fails():
    key = new_data_key()
    ad = field_ad(CASE, "text")
    blob = seal(key, b"bi mat", ad)
    for position in range(len(blob)):
        with pytest.raises(CryptoError):
            open_sealed(key, flipped(blob, position), ad)


@PROPERTY
@given(plaintext=st.binary(max_size=200), data=st.data())
def test_any_change_of_any_byte_fails(plaintext, data):
    key = new_data_key()
    blob = seal(key, plaintext, b"ad")
    position = data.draw(st.integers(0, len(blob) - 1))
    mask = data.draw(st.integers(1, 255))
    with pytest.raises(CryptoError):
        open_sealed(key, flipped(blob, position, mask), b"ad")


def test_every_truncation_and_an_appended_byte_fail():
    key = new_data_key()
    blob = seal(key, b"hello", b"")
    for length in range(len(blob)):
        with pytest.raises(CryptoError):
            open_sealed(key, blob[:length], b"")
    with pytest.raises(CryptoError):
        open_sealed(key, blob + b"\x00", b"")


def test_the_wrong_key_fails():
    blob = seal(new_data_key(), b"secret", b"ad")
    with pytest.raises(CryptoError):
        open_sealed(new_data_key(), blob, b"ad")


def test_a_field_moved_to_another_case_fails():
    key = new_data_key()
    blob = seal(key, b"text", field_ad(CASE, "text"))
    with pytest.raises(CryptoError):
        open_sealed(key, blob, field_ad(OTHER_CASE, "text"))


def test_a_field_moved_to_another_field_of_the_same_case_fails():
    key = new_data_key()
    blob = seal(key, b"title", field_ad(CASE, "title"))
    with pytest.raises(CryptoError):
        open_sealed(key, blob, field_ad(CASE, "text"))


def test_an_unknown_version_is_refused_even_with_a_valid_tag():
    key = new_data_key()
    nonce = bytes(12)
    blob = b"\x02" + nonce + AESGCM(key).encrypt(nonce, b"future", b"\x02ad")
    with pytest.raises(CryptoError, match="version"):
        open_sealed(key, blob, b"ad")


def test_keys_that_are_not_32_bytes_are_refused():
    # AES-GCM itself would quietly accept a 16-byte key: we promise AES-256.
    with pytest.raises(CryptoError):
        seal(bytes(16), b"x", b"")
    with pytest.raises(CryptoError):
        open_sealed(bytes(16), seal(new_data_key(), b"x", b""), b"")


def test_a_blob_that_is_not_bytes_is_refused():
    with pytest.raises(CryptoError):
        open_sealed(new_data_key(), "not bytes", b"")  # type: ignore[arg-type]


def test_data_keys_are_32_fresh_random_bytes():
    generated = {new_data_key() for _ in range(100)}
    assert len(generated) == 100
    assert all(len(key) == 32 for key in generated)


def test_field_ad_is_the_same_for_the_same_case_and_field():
    assert field_ad(CASE, "title") == field_ad(CASE, "title")


def test_field_ad_cannot_be_confused_by_moving_the_boundary():
    assert field_ad("ab", "c") != field_ad("a", "bc")
    assert field_ad("a", "b.c") != field_ad("a.b", "c")


@PROPERTY
@given(
    first=st.tuples(st.text(min_size=1), st.text(min_size=1)),
    second=st.tuples(st.text(min_size=1), st.text(min_size=1)),
)
def test_field_ad_is_different_for_any_different_case_or_field(first, second):
    assert (field_ad(*first) == field_ad(*second)) == (first == second)


@pytest.mark.parametrize(("case_id", "field"), [("", "title"), (CASE, ""), ("", "")])
def test_field_ad_refuses_empty_parts(case_id, field):
    with pytest.raises(ValueError, match="must be non-empty"):
        field_ad(case_id, field)
