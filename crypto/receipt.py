"""The reporter's receipt: 16 random digits that are the reporter's only key to their case."""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, field

from ._common import hkdf_expand
from .errors import CryptoError
from .kdf import KdfProfile, derive_key
from .keys import public_key_of

RECEIPT_DIGITS = 16  # log2(10**16) ≈ 53 bits: with Argon2id per guess, out of reach offline

_LOOKUP_INFO = b"homthu receipt lookup v1"
_X25519_INFO = b"homthu receipt x25519 v1"
# Separators people type or paste between digit groups: whitespace (NFKC already turned NBSP
# and other spaces into " "), ASCII hyphen, Unicode dashes and minus, dots.
_SEPARATORS = re.compile(r"[\s.\-\u2010-\u2015\u2212]")
_DIGITS = re.compile(rf"[0-9]{{{RECEIPT_DIGITS}}}")
_MAX_INPUT = 4 * RECEIPT_DIGITS  # generous for separators; a longer field is not a receipt


def new_receipt() -> str:
    """16 uniformly random decimal digits, no separators."""
    return f"{secrets.randbelow(10**RECEIPT_DIGITS):0{RECEIPT_DIGITS}d}"


def normalize_receipt(text: str) -> str | None:
    """The 16 ASCII digits a typed receipt stands for, or None if it is not a receipt.

    NFKC turns full-width digits (from some phone keyboards) into ASCII and NBSP into a space;
    separators are dropped. Other scripts' digits are refused, not guessed at.
    """
    if not isinstance(text, str) or len(text) > _MAX_INPUT:
        return None
    digits = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    return digits if _DIGITS.fullmatch(digits) else None


def format_receipt(receipt: str) -> str:
    """Grouped for reading aloud and copying onto paper: "1234 5678 9012 3456"."""
    digits = normalize_receipt(receipt)
    if digits is None:
        raise ValueError("not a receipt")
    return " ".join(digits[i : i + 4] for i in range(0, RECEIPT_DIGITS, 4))


@dataclass(frozen=True)
class ReporterKeys:
    """What a receipt opens: the case's lookup id and the reporter's X25519 key pair."""

    lookup_id: bytes  # stored with the case to find it; reveals nothing about the private key
    private_key: bytes = field(repr=False)  # never in a repr, hence never in a log line
    public_key: bytes


def derive_reporter_keys(receipt: str, org_salt: bytes, profile: KdfProfile) -> ReporterKeys:
    """One Argon2id derivation of the receipt, expanded by HKDF under two labels.

    One slow step, not two: the cost of a guess is the same for an attacker and for us, so
    spending it twice would only slow honest users. The labels make the lookup id (stored in
    the clear) and the private key independent. Store profile.encode() with the lookup id: a
    different profile derives different keys. CryptoError if `receipt` is not a receipt.
    """
    digits = normalize_receipt(receipt)
    if digits is None:
        raise CryptoError("not a receipt")
    master = derive_key(digits.encode("ascii"), org_salt, profile)
    private = hkdf_expand(master, info=_X25519_INFO)
    return ReporterKeys(
        lookup_id=hkdf_expand(master, info=_LOOKUP_INFO),
        private_key=private,
        public_key=public_key_of(private),
    )
