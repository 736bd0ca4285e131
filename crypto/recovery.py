"""The body's recovery private key as a code a chair can keep on paper and type back in."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

from ._common import KEY_SIZE, require_key
from .errors import CryptoError

# Crockford's base32 alphabet: no I, L, O (they read as 1, 1, 0) and no U.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CONFUSABLES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_CHECKSUM_SIZE = 2
_PAYLOAD_BITS = (KEY_SIZE + _CHECKSUM_SIZE) * 8  # 272
_CODE_LENGTH = -(-_PAYLOAD_BITS // 5)  # 55 characters
_PAD_BITS = _CODE_LENGTH * 5 - _PAYLOAD_BITS  # 3 zero bits at the end, checked when decoding
_GROUP = 4
_IGNORED = re.compile(r"[\s\-\u2010-\u2015\u2212]")


def _checksum(private: bytes) -> bytes:
    return hashlib.sha256(private).digest()[:_CHECKSUM_SIZE]


def encode_recovery_code(private: bytes) -> str:
    """32-byte key + 2-byte checksum in base32, groups of 4 joined by "-" (55 characters)."""
    require_key(private, "recovery private key")
    number = int.from_bytes(private + _checksum(private), "big") << _PAD_BITS
    code = "".join(
        _ALPHABET[(number >> (5 * shift)) & 31] for shift in reversed(range(_CODE_LENGTH))
    )
    return "-".join(code[i : i + _GROUP] for i in range(0, _CODE_LENGTH, _GROUP))


def decode_recovery_code(text: str) -> bytes:
    """The private key a typed code stands for.

    Forgiving about how it is typed (case, spaces, dashes, O/0, I/1, L/1); strict about what it
    says: a wrong length, an unknown character or a failed checksum is CryptoError. The 16-bit
    checksum misses one typo in 65536, so callers should also compare public_key_of(result) with
    the recovery public key they hold.
    """
    if not isinstance(text, str):
        raise CryptoError("a recovery code is text")
    cleaned = _IGNORED.sub("", unicodedata.normalize("NFKC", text)).upper().translate(_CONFUSABLES)
    if len(cleaned) != _CODE_LENGTH:
        raise CryptoError("a recovery code has 55 characters")
    number = 0
    for char in cleaned:
        value = _ALPHABET.find(char)
        if value < 0:
            raise CryptoError("a character that cannot occur in a recovery code")
        number = number << 5 | value
    if number & ((1 << _PAD_BITS) - 1):
        raise CryptoError("recovery code is mistyped (bad final character)")
    payload = (number >> _PAD_BITS).to_bytes(KEY_SIZE + _CHECKSUM_SIZE, "big")
    private, checksum = payload[:KEY_SIZE], payload[KEY_SIZE:]
    if not hmac.compare_digest(_checksum(private), checksum):
        raise CryptoError("recovery code is mistyped (checksum does not match)")
    return private
