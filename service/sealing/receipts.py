"""The reporter's receipt: 16 random digits, their only key to their case.

One Argon2id derivation of the receipt (under the organisation's salt and profile) gives the
case's lookup id and the reporter's X25519 key pair; nothing else about the receipt is stored.
"""

from __future__ import annotations

import crypto
from service.models import Organisation
from service.sealing.profiles import KdfProfile

RECEIPT_DIGITS = crypto.RECEIPT_DIGITS
ReporterKeys = crypto.ReporterKeys  # lookup_id, private_key, public_key


def new_receipt() -> str:
    """16 uniformly random decimal digits, no separators."""
    return crypto.new_receipt()


def normalise_receipt(text: str) -> str | None:
    """The 16 ASCII digits a typed receipt stands for, or None if it is not a receipt."""
    return crypto.normalize_receipt(text)


def format_receipt(receipt: str) -> str:
    """Grouped for reading aloud and copying onto paper: "1234 5678 9012 3456"."""
    return crypto.format_receipt(receipt)


def receipt_profile(organisation: Organisation) -> KdfProfile:
    """The Argon2id profile the organisation's receipts are derived with."""
    return KdfProfile.decode(organisation.receipt_kdf)


def derive_reporter_keys(
    receipt: str, organisation_salt: bytes, profile: KdfProfile
) -> ReporterKeys:
    """The lookup id and the reporter's key pair a receipt stands for (one Argon2id run).

    SealingError if `receipt` is not a receipt. Called as `receipts.derive_reporter_keys`, so a
    test or benchmark can count the derivations by replacing this one name.
    """
    return crypto.derive_reporter_keys(receipt, organisation_salt, profile)
