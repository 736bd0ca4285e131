"""A body's recovery key pair: the public half is stored, the private half leaves only once,
as a code the chair keeps on paper and types back in to recover the body's cases."""

from __future__ import annotations

from dataclasses import dataclass, field

import crypto


@dataclass(frozen=True)
class NewRecoveryKey:
    public_key: bytes  # stored with the body; every case key is also wrapped to it
    paper_code: str = field(repr=False)  # shown once; stored nowhere


def new_recovery_key() -> NewRecoveryKey:
    private, public = crypto.generate_keypair()
    return NewRecoveryKey(public_key=public, paper_code=crypto.encode_recovery_code(private))


def private_key_from_code(code: str) -> bytes:
    """The private key a typed code stands for; SealingError if it is mistyped."""
    return crypto.decode_recovery_code(code)


def public_key_of(private_key: bytes) -> bytes:
    return crypto.public_key_of(private_key)


def open_paper_code(code: str, public_key: bytes) -> bytes:
    """The private key of a typed code that belongs to `public_key`; SealingError otherwise.

    The code's 16-bit checksum misses one typo in 65536: comparing public keys catches the rest
    (and a code of another body).
    """
    private = private_key_from_code(code)
    if public_key_of(private) != public_key:
        raise crypto.CryptoError("the recovery code belongs to another key")
    return private
