"""The body's recovery key as a paper code."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import CryptoError, decode_recovery_code, encode_recovery_code, generate_keypair

PROPERTY = settings(max_examples=50, deadline=None)
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
KEY = bytes(range(32))


def test_a_recovery_code_decodes_to_the_key_it_encodes():
    private, _ = generate_keypair()
    assert decode_recovery_code(encode_recovery_code(private)) == private


@PROPERTY
@given(private=st.binary(min_size=32, max_size=32))
def test_every_key_survives_its_recovery_code(private):
    assert decode_recovery_code(encode_recovery_code(private)) == private


def test_a_recovery_code_is_uppercase_base32_in_groups_of_four():
    code = encode_recovery_code(KEY)
    assert re.fullmatch(rf"([{ALPHABET}]{{4}}-){{13}}[{ALPHABET}]{{3}}", code), code


def test_a_recovery_code_is_read_back_however_it_is_typed():
    code = encode_recovery_code(KEY)
    typed_variants = [
        code.lower(),
        code.replace("-", ""),
        code.replace("-", " "),
        " ".join(code.replace("-", "")),
        code.replace("0", "O").replace("1", "I"),
        code.replace("1", "l").lower(),
    ]
    for typed in typed_variants:
        assert decode_recovery_code(typed) == KEY, typed


def test_every_single_character_typo_in_a_code_is_caught():
    # The 16-bit checksum misses one random typo in 65536; for this code it catches every one.
    code = encode_recovery_code(KEY).replace("-", "")
    for position, original in enumerate(code):
        for replacement in ALPHABET.replace(original, ""):
            typo = code[:position] + replacement + code[position + 1 :]
            with pytest.raises(CryptoError):
                decode_recovery_code(typo)


def test_every_swap_of_two_neighbouring_characters_is_caught():
    code = encode_recovery_code(KEY).replace("-", "")
    for position in range(len(code) - 1):
        swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
        if swapped != code:
            with pytest.raises(CryptoError):
                decode_recovery_code(swapped)


def test_a_missing_or_extra_character_is_caught():
    code = encode_recovery_code(KEY)
    for damaged in (code[:-1], code + "0", code[1:], "0" + code):
        with pytest.raises(CryptoError):
            decode_recovery_code(damaged)


@pytest.mark.parametrize("text", ["", "hello", "U" * 55, "*" * 55])
def test_text_that_is_not_a_code_is_refused(text):
    with pytest.raises(CryptoError):
        decode_recovery_code(text)


def test_only_32_byte_keys_are_encoded():
    with pytest.raises(CryptoError):
        encode_recovery_code(bytes(31))
