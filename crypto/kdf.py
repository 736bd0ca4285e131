"""Argon2id: cost profiles, key derivation and login password hashes.

Argon2id is the only slow step of the whole package (tens of ms in production), so
every derived value records its profile: the cost can be raised later without losing old data.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from ._common import KEY_SIZE, SALT_SIZE
from .errors import CryptoError

# Upper bounds for parameters read back from storage: a corrupted or hostile record must not be
# able to make the server allocate terabytes or spin for hours before the check fails. The memory
# bound is RFC 9106's first recommended setting (2 GiB), far above anything this service uses.
MAX_MEMORY_KIB = 2 * 1024 * 1024
MAX_ITERATIONS = 64
MAX_LANES = 64

_NUMBER = r"([1-9][0-9]{0,9})"  # canonical decimal: no sign, no leading zeros, ASCII only
_PROFILE_RE = re.compile(rf"argon2id:m={_NUMBER},t={_NUMBER},p={_NUMBER}")
_B64 = r"[A-Za-z0-9+/]+"  # the PHC format's unpadded standard base64
_PHC_RE = re.compile(rf"\$argon2id\$v=19\$m={_NUMBER},t={_NUMBER},p={_NUMBER}\${_B64}\${_B64}")


@dataclass(frozen=True)
class KdfProfile:
    """Argon2id cost parameters: memory in KiB, passes over memory, parallel lanes."""

    memory_kib: int
    iterations: int
    lanes: int = 1

    def __post_init__(self) -> None:
        # Validate at construction so that every KdfProfile in the program is one Argon2 accepts.
        for name, value, low, high in (
            ("lanes", self.lanes, 1, MAX_LANES),
            ("iterations", self.iterations, 1, MAX_ITERATIONS),
            ("memory_kib", self.memory_kib, 8 * self.lanes, MAX_MEMORY_KIB),
        ):
            if type(value) is not int or not low <= value <= high:
                raise ValueError(f"{name} must be an integer in [{low}, {high}], not {value!r}")

    def encode(self) -> str:
        """Canonical text form, stored beside every derived value, e.g. argon2id:m=19456,t=2,p=1."""
        return f"argon2id:m={self.memory_kib},t={self.iterations},p={self.lanes}"

    @classmethod
    def decode(cls, text: str) -> KdfProfile:
        """Parse exactly what encode() produces; anything else is CryptoError."""
        match = _PROFILE_RE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise CryptoError("not an Argon2id profile")
        return _profile_from_numbers(*match.groups())


def _profile_from_numbers(memory: str, iterations: str, lanes: str) -> KdfProfile:
    try:
        return KdfProfile(memory_kib=int(memory), iterations=int(iterations), lanes=int(lanes))
    except ValueError as error:
        raise CryptoError(f"Argon2id parameters out of range: {error}") from None


# OWASP's minimum recommendation for Argon2id: 19 MiB, 2 passes, 1 lane.
PRODUCTION = KdfProfile(memory_kib=19 * 1024, iterations=2, lanes=1)
# The smallest parameters Argon2 accepts: for tests only, never for stored production data.
FAST = KdfProfile(memory_kib=8, iterations=1, lanes=1)

_NAMED = {"production": PRODUCTION, "fast": FAST}


def profile_named(name: str) -> KdfProfile:
    """The profile a configuration value names ("production" or "fast"); ValueError otherwise."""
    try:
        return _NAMED[name]
    except KeyError:
        raise ValueError(
            f"unknown KDF profile {name!r}; expected one of {sorted(_NAMED)}"
        ) from None


def derive_key(secret: bytes, salt: bytes, profile: KdfProfile) -> bytes:
    """Argon2id(secret, salt) -> 32-byte key. Deterministic: same inputs, same key."""
    if len(salt) < SALT_SIZE:
        raise ValueError(f"salt must be at least {SALT_SIZE} bytes")
    return _argon2(salt, profile).derive(secret)


def _argon2(salt: bytes, profile: KdfProfile) -> Argon2id:
    return Argon2id(
        salt=salt,
        length=KEY_SIZE,
        iterations=profile.iterations,
        lanes=profile.lanes,
        memory_cost=profile.memory_kib,
    )


def password_bytes(password: str) -> bytes:
    """The bytes a password stands for.

    NFC first (RFC 8265 OpaqueString): Vietnamese keyboards (Unikey "dựng sẵn" vs "tổ hợp",
    macOS) send "ệ" either precomposed or as e + combining marks, and the same typed password must
    give the same key whichever one the browser used.
    """
    try:
        return unicodedata.normalize("NFC", password).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: cannot come from a keyboard
        raise CryptoError("password is not valid Unicode text") from None


def hash_password(password: str, profile: KdfProfile) -> str:
    """A PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash) with a fresh random salt."""
    salt = secrets.token_bytes(SALT_SIZE)
    return _argon2(salt, profile).derive_phc_encoded(password_bytes(password))


def verify_password(password: str, encoded: str) -> bool:
    """True if the password matches the PHC string; False on mismatch or junk. Never raises."""
    try:
        # Parse first: refuses junk and absurd costs before Argon2 allocates anything.
        password_hash_profile(encoded)
        Argon2id.verify_phc_encoded(password_bytes(password), encoded)
    except (CryptoError, InvalidKey, ValueError, TypeError):
        return False
    return True


def password_hash_profile(encoded: str) -> KdfProfile:
    """The cost a PHC string was made with, so a login can tell whether to rehash."""
    match = _PHC_RE.fullmatch(encoded) if isinstance(encoded, str) else None
    if match is None:
        raise CryptoError("not an Argon2id PHC string")
    return _profile_from_numbers(*match.groups())
