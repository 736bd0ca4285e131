"""Data keys and AES-256-GCM sealing of single values (case fields, messages, metadata)."""

from __future__ import annotations

import secrets

from ._common import (
    KEY_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    VERSION_BYTE,
    aes_decrypt,
    aes_encrypt,
    hkdf,
    split_version,
)

_FIELD_AD_LABEL = b"homthu field v1"


def new_data_key() -> bytes:
    """A fresh random 32-byte AES-256 key (one per case, or per identity record)."""
    return secrets.token_bytes(KEY_SIZE)


def derive_subkey(secret: bytes, label: bytes) -> bytes:
    """A 32-byte key for one purpose, derived from a longer-lived secret with HKDF-SHA256.

    Different labels give independent keys, so one configured secret can serve several uses.
    """
    if not isinstance(secret, bytes) or len(secret) < 16:
        raise ValueError("the secret must be at least 16 bytes")
    return hkdf(secret, salt=None, info=b"homthu subkey v1 " + label)


def seal(key: bytes, plaintext: bytes, ad: bytes) -> bytes:
    """Encrypt and authenticate: b"\\x01" + random 12-byte nonce + ciphertext and tag.

    The version byte is authenticated with `ad`, so a blob cannot be passed off as another
    format version. Random nonces are safe here: one key seals at most thousands of values, far
    below GCM's 2**32 random-nonce limit.
    """
    nonce = secrets.token_bytes(NONCE_SIZE)
    return VERSION_BYTE + nonce + aes_encrypt(key, nonce, plaintext, VERSION_BYTE + ad)


def open_sealed(key: bytes, blob: bytes, ad: bytes) -> bytes:
    """Reverse seal(); CryptoError on any tampering, wrong key or wrong associated data."""
    rest = split_version(blob, min_rest=NONCE_SIZE + TAG_SIZE)
    nonce, ciphertext = rest[:NONCE_SIZE], rest[NONCE_SIZE:]
    return aes_decrypt(key, nonce, ciphertext, VERSION_BYTE + ad)


def field_ad(case_id: str, field: str) -> bytes:
    """Associated data binding a blob to one case and one field of it.

    Each part is length-prefixed, so no pair of (case id, field) shares an encoding with another
    whatever characters they contain: a title can't be moved into a message or into another case.
    """
    parts = [case_id, field]
    if not all(isinstance(part, str) and part for part in parts):
        raise ValueError("case id and field name must be non-empty strings")
    return _FIELD_AD_LABEL + b"".join(_length_prefixed(part.encode("utf-8")) for part in parts)


def _length_prefixed(data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise ValueError("associated data part longer than 65535 bytes")
    return len(data).to_bytes(2, "big") + data
