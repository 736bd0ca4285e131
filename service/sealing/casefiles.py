"""Sealing what people write and upload under a case's keys.

Every field is AEAD-sealed with associated data binding the case id and the field name, so a
blob cannot be moved to another case or another column. Files are sealed in STREAM chunks and
written chunk by chunk, so a large upload never sits whole in memory (except a PDF or an Office
document, which documents.py must read whole to rewrite: bounded by the upload limit). Storing a
file strips its identifying metadata first (images: metadata.py; PDF and Office documents:
documents.py), whichever way the file came in, and records in its sealed meta whether it could.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

import crypto
from service.models import Attachment, AttachmentChunk
from service.sealing.documents import clean_file
from service.sealing.metadata import StripReport

CHUNK_SIZE = crypto.STREAM_CHUNK_SIZE  # plaintext bytes per stored chunk (the last may be fewer)


def seal_text(key: bytes, case_id: str, field: str, text: str) -> bytes:
    return crypto.seal(key, text.encode("utf-8"), crypto.field_ad(case_id, field))


def open_text(key: bytes, case_id: str, field: str, blob: bytes) -> str:
    return crypto.open_sealed(key, blob, crypto.field_ad(case_id, field)).decode("utf-8")


def seal_json(key: bytes, case_id: str, field: str, value: Any) -> bytes:
    return seal_text(key, case_id, field, json.dumps(value, ensure_ascii=False))


def open_json(key: bytes, case_id: str, field: str, blob: bytes) -> Any:
    return json.loads(open_text(key, case_id, field, blob))


def message_field(message_id: int) -> str:
    return f"message.{message_id}"


class Upload(Protocol):
    """A file as received: name and type as the browser sent them, content as chunks.

    iter_chunks() returns a fresh iterator over the same bytes at every call: an image is read
    twice when it is stored, once to survey its metadata and once to strip it.
    """

    filename: str
    content_type: str

    def iter_chunks(self) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class AttachmentInfo:
    id: str
    name: str
    content_type: str
    size: int
    author: str
    uploaded_on: dt.date
    message_id: int | None
    # "cleaned": metadata removed; "failed": could not be parsed, stored as sent (or cleaned only
    # up to where it broke); "unsupported": a type not cleaned; "": stored before this was kept.
    cleaning: str = ""


def _stream_ad(case_id: str, attachment_id: str) -> bytes:
    return crypto.field_ad(case_id, f"attachment.{attachment_id}")


def _meta_field(attachment_id: str) -> str:
    return f"attachment.{attachment_id}.meta"


def store_attachment(
    db: Session,
    *,
    case_id: str,
    case_key: bytes,
    upload: Upload,
    author: str,
    position: int,
    uploaded_on: dt.date,
    message_id: int | None = None,
) -> Attachment:
    """Seal `upload`, minus identifying image metadata (EXIF, XMP, ...), under the case key
    into chunk rows, one chunk in memory at a time. The size stored is the stripped size."""
    attachment = Attachment(
        id=secrets.token_hex(16),
        case_id=case_id,
        message_id=message_id,
        author=author,
        position=position,
        uploaded_on=uploaded_on,
        meta_ct=b"",
        stream_header=b"",
        chunk_count=0,
    )
    db.add(attachment)
    db.flush()  # the chunk rows below refer to it
    size = 0
    report = StripReport()

    def counted() -> Iterator[bytes]:
        nonlocal size
        for chunk in clean_file(upload.iter_chunks, report):
            size += len(chunk)
            yield chunk

    header, sealed_chunks = crypto.seal_stream(
        case_key, _stream_ad(case_id, attachment.id), _rechunk(counted())
    )
    count = 0
    for seq, sealed in enumerate(sealed_chunks):
        # Core inserts, not ORM objects: nothing accumulates in the session's identity map.
        row = {"attachment_id": attachment.id, "seq": seq, "data": sealed}
        db.execute(insert(AttachmentChunk), [row])
        count += 1
    meta = {
        "name": upload.filename,
        "type": upload.content_type,
        "size": size,
        "cleaning": _cleaning(report),
    }
    attachment.stream_header = header
    attachment.chunk_count = count
    attachment.meta_ct = seal_json(case_key, case_id, _meta_field(attachment.id), meta)
    return attachment


def _cleaning(report: StripReport) -> str:
    """What cleaning did to a file, for the handler (see AttachmentInfo.cleaning)."""
    if report.format is None:
        return "unsupported"
    return "cleaned" if report.intact_from is None and report.problem is None else "failed"


def _rechunk(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Regroup arbitrary pieces into CHUNK_SIZE chunks (the last may be shorter)."""
    buffer = bytearray()
    for piece in chunks:
        buffer += piece
        while len(buffer) >= CHUNK_SIZE:
            yield bytes(buffer[:CHUNK_SIZE])
            del buffer[:CHUNK_SIZE]
    if buffer:
        yield bytes(buffer)


def attachment_info(attachment: Attachment, case_key: bytes) -> AttachmentInfo:
    meta = open_json(case_key, attachment.case_id, _meta_field(attachment.id), attachment.meta_ct)
    return AttachmentInfo(
        id=attachment.id,
        name=meta["name"],
        content_type=meta["type"],
        size=meta["size"],
        author=attachment.author,
        uploaded_on=attachment.uploaded_on,
        message_id=attachment.message_id,
        cleaning=meta.get("cleaning", ""),
    )


def iter_attachment(
    read_session: Callable[[], Session], attachment: Attachment, case_key: bytes
) -> Iterator[bytes]:
    """Decrypted content; SealingError if anything was altered or is missing.

    Each chunk is fetched in its own short read-only session, so a slow download holds no
    transaction (and on SQLite no lock) open while the client reads.
    """
    attachment_id, chunk_count = attachment.id, attachment.chunk_count

    def sealed_chunks() -> Iterator[bytes]:
        for seq in range(chunk_count):
            with read_session() as session:
                data = session.execute(
                    select(AttachmentChunk.data).where(
                        AttachmentChunk.attachment_id == attachment_id, AttachmentChunk.seq == seq
                    )
                ).scalar_one_or_none()
            if data is None:
                raise crypto.CryptoError("a chunk of this file is missing")
            yield data

    return crypto.open_stream(
        case_key,
        attachment.stream_header,
        _stream_ad(attachment.case_id, attachment_id),
        sealed_chunks(),
    )
