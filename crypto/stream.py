"""Chunked file encryption: the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015).

A large upload is sealed and opened chunk by chunk, so it never sits whole in memory. Each chunk's
nonce is its position plus a "last" flag, so a reader who checks the flag and the position
detects dropped, reordered, duplicated or appended chunks and a truncated end, not only changed
bytes. Each file gets its own key (HKDF of the case data key and a random salt in the header), so
counters restart at zero safely and chunks cannot move between files.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator

from ._common import (
    SALT_SIZE,
    TAG_SIZE,
    VERSION_BYTE,
    aes_decrypt,
    aes_encrypt,
    hkdf,
    require_key,
    split_version,
)
from .errors import CryptoError

STREAM_CHUNK_SIZE = 64 * 1024
# Larger plaintext chunks are refused: bounds what one stored chunk can make us allocate.
STREAM_MAX_CHUNK_SIZE = 16 * STREAM_CHUNK_SIZE
STREAM_HEADER_SIZE = 1 + SALT_SIZE

_STREAM_INFO = b"homthu stream v1"
_COUNTER_SIZE = 11
_MAX_COUNTER = 256**_COUNTER_SIZE - 1


def _file_key(data_key: bytes, salt: bytes) -> bytes:
    require_key(data_key, "data key")
    return hkdf(data_key, salt=salt, info=_STREAM_INFO)


def _nonce(counter: int, last: bool) -> bytes:
    """11-byte big-endian chunk number || 1-byte last flag."""
    if counter > _MAX_COUNTER:  # 2**88 chunks: unreachable, but never reuse a nonce
        raise CryptoError("stream too long")
    return counter.to_bytes(_COUNTER_SIZE, "big") + (b"\x01" if last else b"\x00")


class StreamSealer:
    """Seals one file's chunks in order; `header` must be stored once with the file."""

    def __init__(self, data_key: bytes, ad: bytes) -> None:
        salt = secrets.token_bytes(SALT_SIZE)
        self.header: bytes = VERSION_BYTE + salt
        self._key = _file_key(data_key, salt)
        self._ad = VERSION_BYTE + ad  # the format version is authenticated, as in seal()
        self._counter = 0
        self._finished = False

    def seal_chunk(self, plaintext: bytes, *, last: bool) -> bytes:
        """Seal the next chunk; `last=True` on the final one. Nothing may follow it."""
        if self._finished:
            raise CryptoError("stream already finished")
        if len(plaintext) > STREAM_MAX_CHUNK_SIZE:
            raise ValueError(f"chunk larger than {STREAM_MAX_CHUNK_SIZE} bytes")
        sealed = aes_encrypt(self._key, _nonce(self._counter, last), plaintext, self._ad)
        self._counter += 1
        self._finished = last
        return sealed


class StreamOpener:
    """Opens one file's chunks in stored order; call finish() after the last one.

    Until finish() succeeds the plaintext may be a truncated file: don't act on it as complete.
    After any failure the opener refuses further chunks, so a caller cannot skip a bad one.
    """

    def __init__(self, data_key: bytes, header: bytes, ad: bytes) -> None:
        salt = split_version(header, min_rest=SALT_SIZE)
        if len(header) != STREAM_HEADER_SIZE:
            raise CryptoError("stream header has the wrong length")
        self._key = _file_key(data_key, salt)
        self._ad = VERSION_BYTE + ad
        self._counter = 0
        self._finished = False
        self._broken = False

    def open_chunk(self, sealed: bytes, *, last: bool) -> bytes:
        """Open the next chunk; `last` says whether it is the final stored chunk."""
        if self._finished or self._broken:
            raise CryptoError("no chunk may follow the final one or a failed one")
        if not TAG_SIZE <= len(sealed) <= STREAM_MAX_CHUNK_SIZE + TAG_SIZE:
            self._broken = True
            raise CryptoError("sealed chunk has an impossible length")
        try:
            plaintext = aes_decrypt(self._key, _nonce(self._counter, last), sealed, self._ad)
        except CryptoError:
            self._broken = True
            raise
        self._counter += 1
        self._finished = last
        return plaintext

    def finish(self) -> None:
        """CryptoError unless the final chunk was opened: the file was truncated otherwise."""
        if not self._finished:
            raise CryptoError("stream truncated: the final chunk is missing")


def seal_stream(
    data_key: bytes, ad: bytes, chunks: Iterable[bytes]
) -> tuple[bytes, Iterator[bytes]]:
    """Header and a lazy generator of sealed chunks, one per input chunk.

    One chunk of lookahead decides which is last; empty input yields a single empty final chunk,
    so even an empty file proves it was not truncated.
    """
    sealer = StreamSealer(data_key, ad)
    return sealer.header, _seal_chunks(sealer, chunks)


def _seal_chunks(sealer: StreamSealer, chunks: Iterable[bytes]) -> Iterator[bytes]:
    pending: bytes | None = None
    for chunk in chunks:
        if pending is not None:
            yield sealer.seal_chunk(pending, last=False)
        pending = chunk
    yield sealer.seal_chunk(b"" if pending is None else pending, last=True)


def open_stream(
    data_key: bytes, header: bytes, ad: bytes, sealed_chunks: Iterable[bytes]
) -> Iterator[bytes]:
    """Lazy generator of plaintext chunks; raises CryptoError (at the latest at the end) if the
    stream was tampered with or truncated. A bad header fails here, before iteration starts.
    """
    opener = StreamOpener(data_key, header, ad)
    return _open_chunks(opener, sealed_chunks)


def _open_chunks(opener: StreamOpener, sealed_chunks: Iterable[bytes]) -> Iterator[bytes]:
    pending: bytes | None = None
    for sealed in sealed_chunks:
        if pending is not None:
            yield opener.open_chunk(pending, last=False)
        pending = sealed
    if pending is not None:
        yield opener.open_chunk(pending, last=True)
    opener.finish()
