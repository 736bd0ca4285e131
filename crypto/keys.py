"""X25519 key pairs, wrapping data keys to public keys, and password-wrapped private keys."""

from __future__ import annotations

import hmac
import secrets

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ._common import (
    KEY_SIZE,
    NONCE_SIZE,
    SALT_SIZE,
    TAG_SIZE,
    VERSION_BYTE,
    aes_decrypt,
    aes_encrypt,
    hkdf,
    require_key,
    split_version,
)
from .aead import open_sealed, seal
from .errors import CryptoError
from .kdf import KdfProfile, derive_key, password_bytes

_WRAP_INFO = b"homthu wrap v1"
_PRIVATE_KEY_AD = b"homthu private key v1"
# version + ephemeral public key + nonce + wrapped 32-byte key + tag
_WRAPPED_SIZE = 1 + KEY_SIZE + NONCE_SIZE + KEY_SIZE + TAG_SIZE


def generate_keypair() -> tuple[bytes, bytes]:
    """A fresh X25519 key pair as raw 32-byte encodings: (private, public)."""
    private = X25519PrivateKey.generate()
    return private.private_bytes_raw(), private.public_key().public_bytes_raw()


def public_key_of(private: bytes) -> bytes:
    """The raw public key belonging to a raw X25519 private key."""
    return _private_key(private).public_key().public_bytes_raw()


def _private_key(raw: bytes) -> X25519PrivateKey:
    require_key(raw, "X25519 private key")
    return X25519PrivateKey.from_private_bytes(raw)


def _public_key(raw: bytes) -> X25519PublicKey:
    require_key(raw, "X25519 public key")
    return X25519PublicKey.from_public_bytes(raw)


def _shared_secret(private: X25519PrivateKey, public: X25519PublicKey) -> bytes:
    """X25519, refusing the all-zero result a low-order public key forces.

    Without this, a planted low-order "public key" would make every wrap to it use a key that
    anybody can compute.
    """
    try:
        shared = private.exchange(public)
    except ValueError:  # OpenSSL already refuses the all-zero output
        raise CryptoError("X25519 exchange with a low-order public key") from None
    if hmac.compare_digest(shared, bytes(KEY_SIZE)):
        raise CryptoError("X25519 exchange with a low-order public key")
    return shared


def _wrapping_key(
    shared: bytes, eph_public: bytes, recipient_public: bytes, context: bytes
) -> bytes:
    # Both public keys in the salt bind the wrap to this exchange; context in info binds its use.
    return hkdf(shared, salt=eph_public + recipient_public, info=_WRAP_INFO + context)


def wrap_key(recipient_public: bytes, key: bytes, context: bytes) -> bytes:
    """Encrypt a 32-byte key so only the holder of the recipient's private key can read it.

    ECIES style: a fresh ephemeral key pair per wrap, so the server never holds anything that
    opens the wrap. blob = b"\\x01" + ephemeral public (32) + nonce (12) + ciphertext and tag.
    `context` (e.g. which case and which of its keys) must be given again to unwrap.
    """
    require_key(key)
    recipient = _public_key(recipient_public)
    ephemeral = X25519PrivateKey.generate()
    eph_public = ephemeral.public_key().public_bytes_raw()
    shared = _shared_secret(ephemeral, recipient)
    wrapping = _wrapping_key(shared, eph_public, recipient_public, context)
    nonce = secrets.token_bytes(NONCE_SIZE)
    # The version byte is authenticated with the context, as in seal().
    ciphertext = aes_encrypt(wrapping, nonce, key, VERSION_BYTE + context)
    return VERSION_BYTE + eph_public + nonce + ciphertext


def unwrap_key(recipient_private: bytes, wrapped: bytes, context: bytes) -> bytes:
    """Reverse wrap_key(); CryptoError for another recipient, another context or tampering."""
    rest = split_version(wrapped, min_rest=_WRAPPED_SIZE - 1)
    if len(wrapped) != _WRAPPED_SIZE:
        raise CryptoError("wrapped key has the wrong length")
    eph_public = rest[:KEY_SIZE]
    nonce = rest[KEY_SIZE : KEY_SIZE + NONCE_SIZE]
    ciphertext = rest[KEY_SIZE + NONCE_SIZE :]
    private = _private_key(recipient_private)
    shared = _shared_secret(private, _public_key(eph_public))
    recipient_public = private.public_key().public_bytes_raw()
    wrapping = _wrapping_key(shared, eph_public, recipient_public, context)
    return aes_decrypt(wrapping, nonce, ciphertext, VERSION_BYTE + context)


def wrap_private_key(private: bytes, password: str, profile: KdfProfile) -> bytes:
    """Protect a handler's private key with a key derived from their password.

    Its own random salt (not the login hash's), and the profile is recorded in the blob, so a
    later, stronger profile can re-wrap it at the next login.
    blob = b"\\x01" + len + profile text + salt (16) + seal(derived key, private key).
    """
    require_key(private, "X25519 private key")
    profile_text = profile.encode().encode("ascii")
    salt = secrets.token_bytes(SALT_SIZE)
    derived = derive_key(password_bytes(password), salt, profile)
    header = VERSION_BYTE + bytes([len(profile_text)]) + profile_text + salt
    return header + seal(derived, private, _PRIVATE_KEY_AD)


def unwrap_private_key(blob: bytes, password: str) -> bytes:
    """Reverse wrap_private_key(); CryptoError on a wrong password or a damaged blob."""
    profile, salt, sealed = _parse_wrapped_private_key(blob)
    derived = derive_key(password_bytes(password), salt, profile)
    private = open_sealed(derived, sealed, _PRIVATE_KEY_AD)
    require_key(private, "X25519 private key")
    return private


def wrapped_key_profile(blob: bytes) -> KdfProfile:
    """The Argon2id profile a wrapped private key was made with (to decide on re-wrapping)."""
    return _parse_wrapped_private_key(blob)[0]


def _parse_wrapped_private_key(blob: bytes) -> tuple[KdfProfile, bytes, bytes]:
    rest = split_version(blob, min_rest=1)
    end = 1 + rest[0]
    try:
        profile_text = rest[1:end].decode("ascii")
    except UnicodeDecodeError:
        raise CryptoError("wrapped private key has a damaged profile") from None
    if len(rest) < end + SALT_SIZE:
        raise CryptoError("wrapped private key is truncated")
    profile = KdfProfile.decode(profile_text)
    return profile, rest[end : end + SALT_SIZE], rest[end + SALT_SIZE :]
