"""The reporter's receipt: generation, typing tolerance, and the keys it derives."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto.receipt
from crypto import (
    FAST,
    RECEIPT_DIGITS,
    CryptoError,
    KdfProfile,
    derive_reporter_keys,
    format_receipt,
    new_data_key,
    new_receipt,
    normalize_receipt,
    public_key_of,
    unwrap_key,
    wrap_key,
)

PROPERTY = settings(max_examples=50, deadline=None)
ORG_SALT = bytes.fromhex("00112233445566778899aabbccddeeff")
RECEIPT = "1234567890123456"
receipts = st.text(alphabet="0123456789", min_size=16, max_size=16)


def test_a_new_receipt_is_16_ascii_digits():
    receipt = new_receipt()
    assert RECEIPT_DIGITS == 16
    assert len(receipt) == 16 and all(char in "0123456789" for char in receipt)


def test_new_receipts_are_random():
    generated = [new_receipt() for _ in range(200)]
    assert len(set(generated)) == 200
    # every digit turns up in the first position: leading zeros are not lost
    assert {receipt[0] for receipt in generated} == set("0123456789")


@pytest.mark.parametrize(
    "typed",
    [
        "1234567890123456",
        "1234 5678 9012 3456",
        "1234-5678-9012-3456",
        "1234.5678.9012.3456",
        " 1234\u00a05678\u00a09012\u00a03456 ",  # non-breaking spaces, pasted from a page
        "1234–5678–9012–3456",  # en dashes, from a word processor
        "1234\t5678\n9012 3456",
        "１２３４ ５６７８ ９０１２ ３４５６",  # full-width digits
    ],
)
def test_a_receipt_is_accepted_however_it_is_typed(typed):
    assert normalize_receipt(typed) == RECEIPT


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "    ",
        "123456789012345",  # 15 digits
        "12345678901234567",  # 17 digits
        "1234 5678 9012 345a",
        "1234 5678 9O12 3456",  # letter O
        "+1234567890123456",
        "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦",  # Arabic-Indic digits: not guessed at
        "1" * 16 + " " * 100,  # too long to be a typed receipt
    ],
)
def test_anything_else_is_not_a_receipt(typed):
    assert normalize_receipt(typed) is None


def test_a_receipt_is_shown_in_groups_of_four():
    assert format_receipt(RECEIPT) == "1234 5678 9012 3456"


@PROPERTY
@given(receipt=receipts)
def test_a_formatted_receipt_normalises_back(receipt):
    assert normalize_receipt(format_receipt(receipt)) == receipt


def test_formatting_junk_is_refused():
    with pytest.raises(ValueError, match="not a receipt"):
        format_receipt("12345")


def test_reporter_keys_are_the_same_for_the_same_receipt_and_salt():
    first = derive_reporter_keys(RECEIPT, ORG_SALT, FAST)
    assert derive_reporter_keys(RECEIPT, ORG_SALT, FAST) == first
    assert derive_reporter_keys("1234 5678 9012 3456", ORG_SALT, FAST) == first


def test_reporter_keys_are_32_byte_keys_that_belong_together():
    keys = derive_reporter_keys(RECEIPT, ORG_SALT, FAST)
    assert len(keys.lookup_id) == len(keys.private_key) == len(keys.public_key) == 32
    assert public_key_of(keys.private_key) == keys.public_key


def test_the_lookup_id_is_not_the_private_key():
    keys = derive_reporter_keys(RECEIPT, ORG_SALT, FAST)
    assert keys.lookup_id != keys.private_key
    assert keys.lookup_id != keys.public_key


def test_another_organisation_salt_gives_unrelated_keys():
    ours = derive_reporter_keys(RECEIPT, ORG_SALT, FAST)
    theirs = derive_reporter_keys(RECEIPT, bytes(16), FAST)
    assert ours.lookup_id != theirs.lookup_id
    assert ours.private_key != theirs.private_key


def test_another_receipt_gives_unrelated_keys():
    ours = derive_reporter_keys(RECEIPT, ORG_SALT, FAST)
    theirs = derive_reporter_keys("1234567890123457", ORG_SALT, FAST)
    assert ours.lookup_id != theirs.lookup_id
    assert ours.private_key != theirs.private_key


def test_another_profile_gives_unrelated_keys():
    # Hence the profile must be stored with the lookup id.
    ours = derive_reporter_keys(RECEIPT, ORG_SALT, FAST)
    theirs = derive_reporter_keys(RECEIPT, ORG_SALT, KdfProfile(memory_kib=16, iterations=1))
    assert ours.lookup_id != theirs.lookup_id


def test_deriving_reporter_keys_costs_one_argon2id_derivation(monkeypatch):
    calls = []
    real = crypto.receipt.derive_key  # type: ignore[attr-defined]  # the name receipt.py calls

    def counting(*arguments):
        calls.append(arguments)
        return real(*arguments)

    monkeypatch.setattr(crypto.receipt, "derive_key", counting)
    derive_reporter_keys(RECEIPT, ORG_SALT, FAST)
    assert len(calls) == 1


def test_the_private_key_never_shows_in_a_repr():
    keys = derive_reporter_keys(RECEIPT, ORG_SALT, FAST)
    assert repr(keys.private_key) not in repr(keys)
    assert "private_key" not in repr(keys)


def test_a_reply_wrapped_to_the_reporter_opens_with_the_receipt_alone():
    at_submission = derive_reporter_keys(RECEIPT, ORG_SALT, FAST)
    data_key = new_data_key()
    wrapped = wrap_key(at_submission.public_key, data_key, b"case key")
    # Later, the reporter types the receipt and nothing else.
    later = derive_reporter_keys("1234 5678 9012 3456", ORG_SALT, FAST)
    assert unwrap_key(later.private_key, wrapped, b"case key") == data_key


def test_deriving_keys_from_something_that_is_not_a_receipt_fails():
    with pytest.raises(CryptoError):
        derive_reporter_keys("12345", ORG_SALT, FAST)
