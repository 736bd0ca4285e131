"""A staff member's X25519 key pair, its private half locked by their password, and the
password's login hash (Argon2id, with its own salt).

Case keys are wrapped to the public key (see keyring); only the password unlocks the private key,
so an administrator or a copy of the database reads no case.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import crypto
from service.sealing.profiles import KdfProfile


@dataclass(frozen=True)
class StaffKeys:
    """What a new account stores (hash, public key, locked private key) and the private key."""

    password_hash: str
    public_key: bytes
    locked_private_key: bytes
    private_key: bytes = field(repr=False)  # never in a repr, hence never in a log line


def new_staff_keys(password: str, profile: KdfProfile) -> StaffKeys:
    """A fresh key pair, its private half locked by `password`, and the password's hash."""
    private, public = crypto.generate_keypair()
    return StaffKeys(
        password_hash=hash_password(password, profile),
        public_key=public,
        locked_private_key=lock_private_key(private, password, profile),
        private_key=private,
    )


def hash_password(password: str, profile: KdfProfile) -> str:
    """The login hash of `password` (a PHC string with a fresh salt)."""
    return crypto.hash_password(password, profile)


def check_password(password: str, password_hash: str) -> bool:
    """True if `password` matches the login hash; False on a mismatch or junk. Never raises."""
    return crypto.verify_password(password, password_hash)


def lock_private_key(private_key: bytes, password: str, profile: KdfProfile) -> bytes:
    """The private key sealed under a key derived from `password` (its own salt and profile)."""
    return crypto.wrap_private_key(private_key, password, profile)


def unlock_private_key(locked: bytes, password: str) -> bytes:
    """Reverse lock_private_key(); SealingError on a wrong password or a damaged blob."""
    return crypto.unwrap_private_key(locked, password)
