"""Argon2id: cost profiles, key derivation and login password hashes."""

import time
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import (
    FAST,
    PRODUCTION,
    CryptoError,
    KdfProfile,
    derive_key,
    hash_password,
    password_hash_profile,
    profile_named,
    verify_password,
)

PROPERTY = settings(max_examples=50, deadline=None)
SALT = bytes(range(16))
ABSURD_PHC = "$argon2id$v=19$m=4294967295,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43


def test_production_profile_meets_the_owasp_minimum():
    assert PRODUCTION.memory_kib >= 19 * 1024 and PRODUCTION.iterations >= 2
    encoded = hash_password("mật khẩu đủ dài", PRODUCTION)
    profile = password_hash_profile(encoded)
    assert profile.memory_kib >= 19456 and profile.iterations >= 2
    assert f"m={profile.memory_kib},t={profile.iterations}," in encoded
    assert verify_password("mật khẩu đủ dài", encoded)


def test_the_fast_profile_is_argon2s_minimum():
    assert (FAST.memory_kib, FAST.iterations, FAST.lanes) == (8, 1, 1)


def test_profiles_encode_as_canonical_text():
    assert PRODUCTION.encode() == "argon2id:m=19456,t=2,p=1"
    assert KdfProfile.decode("argon2id:m=19456,t=2,p=1") == PRODUCTION


@PROPERTY
@given(lanes=st.integers(1, 64), iterations=st.integers(1, 64), data=st.data())
def test_every_valid_profile_survives_encode_and_decode(lanes, iterations, data):
    memory = data.draw(st.integers(8 * lanes, 2 * 1024 * 1024))
    profile = KdfProfile(memory_kib=memory, iterations=iterations, lanes=lanes)
    assert KdfProfile.decode(profile.encode()) == profile


@pytest.mark.parametrize(
    "text",
    [
        "",
        "argon2id",
        "argon2id:m=8,t=1",
        "argon2i:m=8,t=1,p=1",
        "argon2id:t=1,m=8,p=1",
        "argon2id:m=08,t=1,p=1",
        "argon2id:m=8,t=1,p=1 ",
        "argon2id:m=8,t=1,p=1\n",
        "argon2id:m=８,t=1,p=1",  # full-width digit
        "argon2id:m=-8,t=1,p=1",
        "argon2id:m=7,t=1,p=1",  # below Argon2's 8 KiB per lane
        "argon2id:m=8,t=0,p=1",
        "argon2id:m=8,t=1,p=0",
        "argon2id:m=16,t=1,p=4",  # 4 lanes need 32 KiB
        "argon2id:m=4294967295,t=1,p=1",  # would allocate 4 TiB
        "argon2id:m=8,t=1000,p=1",
    ],
)
def test_junk_and_absurd_profiles_are_refused(text):
    with pytest.raises(CryptoError):
        KdfProfile.decode(text)


@pytest.mark.parametrize(
    "arguments", [(7, 1, 1), (8, 0, 1), (8, 1, 0), (16, 1, 3), (8, 1.5, 1), (10**12, 1, 1)]
)
def test_invalid_profiles_cannot_be_constructed(arguments):
    with pytest.raises(ValueError, match="must be an integer in"):
        KdfProfile(*arguments)


def test_profiles_are_named_in_configuration():
    assert profile_named("production") is PRODUCTION
    assert profile_named("fast") is FAST
    for unknown in ("Production", "slow", ""):
        with pytest.raises(ValueError, match="unknown KDF profile"):
            profile_named(unknown)


def test_derive_key_is_a_deterministic_32_byte_key():
    key = derive_key(b"secret", SALT, FAST)
    assert len(key) == 32
    assert derive_key(b"secret", SALT, FAST) == key


def test_derive_key_differs_for_another_secret_salt_or_profile():
    key = derive_key(b"secret", SALT, FAST)
    assert derive_key(b"secreT", SALT, FAST) != key
    assert derive_key(b"secret", bytes(16), FAST) != key
    assert derive_key(b"secret", SALT, KdfProfile(memory_kib=16, iterations=1)) != key
    assert derive_key(b"secret", SALT, KdfProfile(memory_kib=8, iterations=2)) != key


def test_derive_key_refuses_salts_shorter_than_16_bytes():
    with pytest.raises(ValueError, match="at least 16 bytes"):
        derive_key(b"secret", bytes(15), FAST)


def test_a_password_hash_is_a_phc_string_that_verifies():
    encoded = hash_password("correct horse", FAST)
    assert encoded.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert verify_password("correct horse", encoded)


def test_a_wrong_password_does_not_verify():
    assert not verify_password("correct hors", hash_password("correct horse", FAST))


def test_hashing_the_same_password_twice_uses_fresh_salts():
    assert hash_password("same", FAST) != hash_password("same", FAST)


def test_a_password_typed_precomposed_or_decomposed_is_the_same_password():
    # Vietnamese keyboards send "ậ" either as one code point or as a + two combining marks.
    composed = unicodedata.normalize("NFC", "mật khẩu")
    decomposed = unicodedata.normalize("NFD", "mật khẩu")
    assert composed != decomposed
    assert verify_password(decomposed, hash_password(composed, FAST))


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "junk",
        "$argon2i$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,
        "$argon2id$v=16$m=8,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,
        "$argon2id$v=19$m=8,t=1,p=1$AA$" + "A" * 43,  # salt too short
        "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AA",  # hash too short
        "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "!" * 43,
        ABSURD_PHC,
        None,
    ],
)
def test_verify_password_says_no_to_junk_and_never_raises(encoded):
    assert verify_password("password", encoded) is False


def test_an_absurd_cost_in_a_stored_hash_is_refused_before_any_work():
    started = time.perf_counter()
    assert verify_password("password", ABSURD_PHC) is False
    assert time.perf_counter() - started < 0.5


def test_the_profile_of_a_password_hash_tells_whether_to_rehash():
    assert password_hash_profile(hash_password("pw", FAST)) == FAST
    assert password_hash_profile(hash_password("pw", FAST)) != PRODUCTION


@pytest.mark.parametrize("encoded", ["", "junk", ABSURD_PHC, "argon2id:m=8,t=1,p=1"])
def test_the_profile_of_junk_is_a_crypto_error(encoded):
    with pytest.raises(CryptoError):
        password_hash_profile(encoded)
