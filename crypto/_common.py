"""Small helpers shared by the modules of the package (not public API)."""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

from .errors import CryptoError

# Every stored blob starts with this byte, so a future format can sit beside the current one.
VERSION = 1
VERSION_BYTE = bytes([VERSION])

KEY_SIZE = 32  # AES-256 keys, X25519 keys, derived keys: all 32 bytes
NONCE_SIZE = 12  # the AES-GCM nonce size with no extra hashing inside GCM
TAG_SIZE = 16
SALT_SIZE = 16  # RFC 9106 recommends 128-bit salts


def require_key(key: bytes, what: str = "key") -> None:
    """Reject key material of the wrong type or size before it reaches a primitive.

    AESGCM alone would quietly accept 16- or 24-byte keys; we promise AES-256 everywhere.
    """
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        raise CryptoError(f"{what} must be {KEY_SIZE} bytes")


def split_version(blob: bytes, *, min_rest: int) -> bytes:
    """Check the leading version byte and a minimum length; return what follows the version."""
    if not isinstance(blob, bytes) or len(blob) < 1 + min_rest:
        raise CryptoError("blob is truncated or not bytes")
    if blob[0] != VERSION:
        raise CryptoError(f"unknown blob version {blob[0]}")
    return blob[1:]


def aes_encrypt(key: bytes, nonce: bytes, plaintext: bytes, ad: bytes) -> bytes:
    """AES-256-GCM encryption (ciphertext || tag)."""
    require_key(key)
    return AESGCM(key).encrypt(nonce, plaintext, ad)


def aes_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, ad: bytes) -> bytes:
    """AES-256-GCM decryption; an authentication failure becomes CryptoError."""
    require_key(key)
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, ad)
    except InvalidTag:
        # `from None`: the InvalidTag traceback says nothing useful and callers should not see it.
        raise CryptoError(
            "authentication failed (wrong key or associated data, or tampering)"
        ) from None


def hkdf(key_material: bytes, *, salt: bytes | None, info: bytes) -> bytes:
    """HKDF-SHA256 (extract and expand) to one 32-byte key."""
    return HKDF(algorithm=SHA256(), length=KEY_SIZE, salt=salt, info=info).derive(key_material)


def hkdf_expand(key_material: bytes, *, info: bytes) -> bytes:
    """HKDF-SHA256 expand only: for input that is already a uniformly random 32-byte key."""
    return HKDFExpand(algorithm=SHA256(), length=KEY_SIZE, info=info).derive(key_material)
