"""Pure cryptography for Hòm thư kín: bytes in, bytes out; no Flask, no database, no I/O.

Every primitive comes from `cryptography` (X25519, HKDF-SHA256, AES-256-GCM, Argon2id) and
every random value from `secrets`. Every stored blob starts with a version byte (1). Any failure
to open, unwrap or parse stored material raises CryptoError and nothing else.
See the "Encryption (crypto/)" section of the design for how the pieces fit together.
"""

from .aead import derive_subkey, field_ad, new_data_key, open_sealed, seal
from .errors import CryptoError
from .kdf import (
    FAST,
    PRODUCTION,
    KdfProfile,
    derive_key,
    hash_password,
    password_hash_profile,
    profile_named,
    verify_password,
)
from .keys import (
    generate_keypair,
    public_key_of,
    unwrap_key,
    unwrap_private_key,
    wrap_key,
    wrap_private_key,
    wrapped_key_profile,
)
from .receipt import (
    RECEIPT_DIGITS,
    ReporterKeys,
    derive_reporter_keys,
    format_receipt,
    new_receipt,
    normalize_receipt,
)
from .recovery import decode_recovery_code, encode_recovery_code
from .stream import (
    STREAM_CHUNK_SIZE,
    STREAM_MAX_CHUNK_SIZE,
    StreamOpener,
    StreamSealer,
    open_stream,
    seal_stream,
)

__all__ = [
    "FAST",
    "PRODUCTION",
    "RECEIPT_DIGITS",
    "STREAM_CHUNK_SIZE",
    "STREAM_MAX_CHUNK_SIZE",
    "CryptoError",
    "KdfProfile",
    "ReporterKeys",
    "StreamOpener",
    "StreamSealer",
    "decode_recovery_code",
    "derive_key",
    "derive_reporter_keys",
    "derive_subkey",
    "encode_recovery_code",
    "field_ad",
    "format_receipt",
    "generate_keypair",
    "hash_password",
    "new_data_key",
    "new_receipt",
    "normalize_receipt",
    "open_sealed",
    "open_stream",
    "password_hash_profile",
    "profile_named",
    "public_key_of",
    "seal",
    "seal_stream",
    "unwrap_key",
    "unwrap_private_key",
    "verify_password",
    "wrap_key",
    "wrap_private_key",
    "wrapped_key_profile",
]
