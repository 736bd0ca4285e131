"""Uploaded files never touch the disk in plaintext, nor sit whole in memory.

Werkzeug normally spools a large upload to a temporary file as it arrives. Here the spool seals
each chunk under a random key that lives only in this object before writing it, so what reaches
the temporary file is ciphertext; the domain layer then reads the plaintext back chunk by chunk,
strips image metadata and re-seals it under the case key. A file over the per-file limit stops
the request with 413.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from typing import IO

from flask import Request, current_app
from werkzeug.exceptions import RequestEntityTooLarge

from service.sealing.spool import SPOOL_CHUNK_SIZE, SpoolSealer


class EncryptedSpool(io.RawIOBase):
    """A write-then-read file object that stores only sealed chunks in a temporary file."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__()
        self._sealer = SpoolSealer()
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the spool
        self._pending = bytearray()
        self._chunks = 0
        self._max = max_bytes
        self.size = 0
        self._finished = False

    def writable(self) -> bool:
        return not self._finished

    def readable(self) -> bool:
        return self._finished

    def seekable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self._finished:
            raise io.UnsupportedOperation("spool is read-only once rewound")
        self.size += len(data)
        if self.size > self._max:
            raise RequestEntityTooLarge()
        self._pending += data
        while len(self._pending) > SPOOL_CHUNK_SIZE:
            self._spill(bytes(self._pending[:SPOOL_CHUNK_SIZE]), last=False)
            del self._pending[:SPOOL_CHUNK_SIZE]
        return len(data)

    def _spill(self, chunk: bytes, *, last: bool) -> None:
        sealed = self._sealer.seal_chunk(chunk, last=last)
        self._file.write(len(sealed).to_bytes(4, "big") + sealed)
        self._chunks += 1

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Werkzeug rewinds once when the upload is complete: seal the tail then."""
        if offset != 0 or whence != io.SEEK_SET:
            raise io.UnsupportedOperation("an upload spool can only be rewound")
        if not self._finished:
            self._spill(bytes(self._pending), last=True)
            self._pending.clear()
            self._finished = True
        self._file.seek(0)
        return 0

    def tell(self) -> int:
        return 0 if self._finished else self.size

    def iter_chunks(self) -> Iterator[bytes]:
        """The plaintext again, one chunk at a time."""
        self.seek(0)
        opener = self._sealer.opener()
        for index in range(self._chunks):
            length = int.from_bytes(self._file.read(4), "big")
            yield opener.open_chunk(self._file.read(length), last=index == self._chunks - 1)
        opener.finish()

    def readall(self) -> bytes:
        return b"".join(self.iter_chunks())

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        raise io.UnsupportedOperation("read the spool with iter_chunks()")

    def close(self) -> None:
        self._file.close()
        self._sealer.forget()
        super().close()


class HomthuRequest(Request):
    """Flask's request, with uploads spooled through EncryptedSpool."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        # EncryptedSpool is a file-like object that Werkzeug only writes to, seeks and reads;
        # it does not subclass IO[bytes], whose full interface Werkzeug never uses.
        spool = EncryptedSpool(current_app.config["MAX_ATTACHMENT_BYTES"])
        return spool  # type: ignore[return-value]


class SpooledUpload:
    """Adapts a Werkzeug FileStorage backed by an EncryptedSpool to the domain's Upload.

    Its content is the upload as it came: storing it strips identifying image metadata (see
    service.sealing.casefiles.store_attachment), whichever way a file comes in.
    """

    def __init__(self, storage) -> None:
        self.filename = _safe_filename(storage.filename or "file")
        self.content_type = storage.mimetype or "application/octet-stream"
        self._spool: EncryptedSpool = storage.stream

    @property
    def size(self) -> int:
        """The size as uploaded; what is stored may be smaller by the metadata removed."""
        return self._spool.size

    def iter_chunks(self) -> Iterator[bytes]:
        # A fresh pass over the spool at each call: storing an image reads it twice.
        return self._spool.iter_chunks()


def _safe_filename(name: str) -> str:
    """Keep the reporter's name for the file (it is sealed), minus paths and control chars."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in name if ch.isprintable()).strip()
    return cleaned[:200] or "file"
