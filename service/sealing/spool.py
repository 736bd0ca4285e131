"""Sealing an upload's temporary spool: each chunk under a random key that lives only in the
spool object, so what reaches the temporary file is ciphertext (see service/web/uploads.py)."""

from __future__ import annotations

import crypto

SPOOL_CHUNK_SIZE = crypto.STREAM_CHUNK_SIZE
_SPOOL_AD = b"homthu upload spool v1"


class SpoolSealer:
    """Seals one upload's chunks in order, then opens them again in the same order."""

    def __init__(self) -> None:
        self._key = crypto.new_data_key()
        self._sealer = crypto.StreamSealer(self._key, _SPOOL_AD)

    def seal_chunk(self, chunk: bytes, *, last: bool) -> bytes:
        """Seal the next chunk; `last=True` on the final one."""
        return self._sealer.seal_chunk(chunk, last=last)

    def opener(self) -> crypto.StreamOpener:
        """A reader of the sealed chunks: open_chunk(sealed, last=...) in order, then finish().

        SealingError if a chunk was altered, moved or is missing.
        """
        return crypto.StreamOpener(self._key, self._sealer.header, _SPOOL_AD)

    def forget(self) -> None:
        """Drop the key: the spool's file opens no more."""
        self._key = b""
