"""Removing identifying metadata from uploaded images, as a stream.

A photo's EXIF block can carry GPS coordinates, the camera's serial number and the exact time the
picture was taken: enough to unmask an anonymous reporter. `strip_metadata` streams an upload
through a format-specific stripper that drops those blocks and copies every other byte verbatim.
It never decodes pixels (no re-encoding, no quality loss) and never holds more than about one
64 KiB segment plus one source chunk in memory, whatever the file's size.

The format is sniffed from the first bytes (magic numbers), never from the browser's content type
or the file name:

JPEG (``FF D8 FF``)
    Segments are walked marker by marker. Dropped: APP1 (Exif, XMP, extended XMP), APP2 other than
    ICC_PROFILE (notably MPF, the index of embedded preview images), APP3-APP12 (including APP11
    JUMBF/C2PA), APP13 (Photoshop IRB, IPTC), APP15 and COM. Kept: APP0 (JFIF/JFXX), APP2
    ICC_PROFILE (colour, not identifying), APP14 (Adobe colour transform, needed to decode) and
    every table, frame and scan segment. Entropy-coded data is copied verbatim; segments between
    the scans of a progressive JPEG get the same treatment as those before the first scan, and an
    image appended right after EOI (the preview images MPF indexed, with their own EXIF) is
    stripped the same way. Other data after EOI (a motion photo's video, a vendor trailer) is
    copied unchanged. One thing of the EXIF block survives: its Orientation tag, because a phone
    stores a photo sideways and says in that tag how to rotate it for display. Where a dropped
    EXIF block said anything but "upright", a minimal EXIF block (one IFD with only Orientation,
    `_oriented_exif`) takes its place; a block that is already that minimal one is kept.
PNG (``89 50 4E 47 0D 0A 1A 0A``)
    Chunks are walked; tEXt, zTXt, iTXt (the usual home of XMP), eXIf and tIME are dropped, every
    other chunk (critical chunks, iCCP, gAMA, sRGB, pHYs, ...) is copied byte for byte with its CRC.
WebP (``RIFF....WEBP``)
    The EXIF and ``XMP `` chunks are dropped, their flags cleared in VP8X, and the RIFF size in the
    header reduced by what was removed.
Anything else
    Passes through unchanged: HEIC/HEIF, TIFF, PDF and other files keep their properties, as
    the landing page tells reporters. (Office Open XML documents are cleaned by documents.py,
    which storing a file calls first.)

Two passes. The RIFF header states the file's size before the chunks that will be removed, and a
dropped block must not be dropped before the structure after it confirms its length, so every
recognised image is read twice: a survey that checks the structure and counts what will go, then
the pass that produces output. That is why `strip_metadata` takes a *source*, a callable that
returns a fresh iterable of the same bytes each time it is called (for a spooled upload:
``spool.iter_chunks``), rather than an iterable. Unrecognised formats are read once; an image with
nothing to remove is read twice, the second time as a plain copy.

Malformed files never lose image bytes. A block is dropped only when its extent is confirmed: for
JPEG and WebP by a well-formed marker or chunk header (or the end of the file or RIFF) exactly
where the block ends, for PNG by the chunk's CRC. From the first block whose extent is not
confirmed (truncated, wrong length, garbage where a marker should be), the rest of the file is
copied verbatim, so the reporter's evidence survives even a broken file; only metadata blocks
before that point are removed. `StripReport.intact_from` says where that happened. Malformed input
therefore never raises; the only error of this module, `MetadataError`, means the source broke its
contract by yielding different bytes on the second pass. Exceptions raised by the source itself
propagate unchanged; any other exception while surveying (a bug here) leaves the file as it came,
with `StripReport.problem` saying so.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MetadataError", "Source", "StripReport", "strip_metadata"]

Source = Callable[[], Iterable[bytes]]
"""Returns a fresh iterable over the same bytes each time it is called."""


class MetadataError(Exception):
    """The source yielded different bytes on the second pass: the output cannot be trusted."""


@dataclass
class StripReport:
    """What `strip_metadata` did to one file; filled in as the stream is consumed.

    `format` and the rest are known once the first output chunk has been produced (the survey
    runs before it); they are final when the stream is exhausted.
    """

    format: str | None = None  # "jpeg", "png", "webp"; None: not an image we strip, copied as is
    removed: dict[str, int] = field(default_factory=dict)  # kind of block -> how many removed
    removed_bytes: int = 0
    intact_from: int | None = None  # offset from which a malformed file was copied verbatim
    problem: str | None = None  # why it was, in a few words

    @property
    def stripped(self) -> bool:
        return self.removed_bytes > 0


def strip_metadata(source: Source, report: StripReport | None = None) -> Iterator[bytes]:
    """Stream the file `source()` yields, minus its identifying metadata (see the module doc).

    `source` is called at most twice and must yield the same bytes each time, in chunks of any
    size. `report`, if given, is filled in with what was removed.
    """
    return _strip(source, report if report is not None else StripReport())


# --- the driver ----------------------------------------------------------------------------------
#
# A walker reads one format from a _Reader and yields events that, in order, account for every
# byte it consumes (the driver copies whatever it did not consume after it returns):
#
#   (_UNIT, offset, kind)   a block starts at `offset`; `kind` names it if it is to be dropped
#   (_KEEP, data)           bytes of the current block for the output
#   (_DROP, data)           bytes of the current block to leave out
#   (_BROKEN, offset, why)  the structure is not to be trusted from `offset` on (the start of the
#                           current block, or the reader's position when the current block is
#                           confirmed); the walker stops there
#
# The survey pass runs the walker with plan=None; the output pass runs it again with the
# survey's result, from which the WebP walker patches the RIFF size and the VP8X flags (same
# lengths, so offsets do not move).

#   (_INSERT, data)         bytes to output in place of the current block if it is dropped (the
#                           output pass only; they do not count as input)

_UNIT, _KEEP, _DROP, _BROKEN, _INSERT = range(5)
_COPY_PIECE = 64 * 1024

_Event = tuple[Any, ...]  # (_UNIT, offset, kind), (_KEEP or _DROP, bytes) or (_BROKEN,)
_Walker = Callable[["_Reader", "StripReport | None"], Iterator[_Event]]


def _strip(source: Source, report: StripReport) -> Iterator[bytes]:
    with _opened(source) as reader:
        walker, report.format = _sniff(reader.peek(12))
        if walker is None:
            yield from reader.rest()
            return
        try:
            _survey(walker(reader, None), report)
        except Exception as exc:
            if reader.source_failed:
                raise
            # A bug here must not cost the reporter their evidence: keep the file as it came.
            report.removed, report.removed_bytes = {}, 0
            report.intact_from, report.problem = 0, f"stripper failed: {type(exc).__name__}"
    with _opened(source) as reader:
        walker, kind = _sniff(reader.peek(12))
        if kind != report.format:
            raise MetadataError("the source yielded different bytes on the second pass")
        if walker is not None and report.stripped:
            yield from _output(walker(reader, report), report)
        yield from reader.rest()


def _survey(events: Iterator[_Event], report: StripReport) -> None:
    """Count what the output pass will drop: every dropped block that precedes the breakage."""
    current: list[Any] = [0, None, 0]  # the latest block: offset, kind, bytes dropped

    def confirm() -> None:
        _offset, kind, dropped = current
        if kind is not None:
            report.removed[kind] = report.removed.get(kind, 0) + 1
            report.removed_bytes += dropped

    for event in events:
        tag = event[0]
        if tag == _DROP:
            current[2] += len(event[1])
        elif tag == _UNIT:
            confirm()
            current = [event[1], event[2], 0]
        elif tag == _BROKEN:
            report.intact_from, report.problem = event[1], event[2]
            if current[0] < event[1]:
                confirm()
            return
    confirm()


def _output(events: Iterator[_Event], report: StripReport) -> Iterator[bytes]:
    horizon = report.intact_from
    offset = dropped = 0
    for event in events:
        tag = event[0]
        if tag == _KEEP:
            offset += len(event[1])
            yield event[1]
        elif tag == _DROP:
            if horizon is None or offset < horizon:
                dropped += len(event[1])
            else:
                yield event[1]
            offset += len(event[1])
        elif tag == _INSERT:
            if horizon is None or offset < horizon:
                yield event[1]
        elif tag == _BROKEN:
            break
    if dropped != report.removed_bytes:
        raise MetadataError("the source yielded different bytes on the second pass")


def _sniff(head: bytes) -> tuple[_Walker | None, str | None]:
    if head.startswith(b"\xff\xd8\xff"):
        return _walk_jpeg, "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _walk_png, "png"
    if len(head) == 12 and head.startswith(b"RIFF") and head.endswith(b"WEBP"):
        return _walk_webp, "webp"
    return None, None


@contextmanager
def _opened(source: Source) -> Iterator[_Reader]:
    chunks = iter(source())
    try:
        yield _Reader(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:  # e.g. a generator over a spool file: release it before pass two
            close()


class _Reader:
    """Bytes from an iterator of chunks, with bounded look-ahead.

    `peek` and `read` hold at most what they are asked for plus one chunk; `pieces`, `rest` and
    `scan_entropy` hand data on as it arrives, so a large block never sits in memory whole.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = bytearray()
        self._pos = 0
        self.offset = 0  # of the next unread byte, from the start of the file
        self.source_failed = False

    def _more(self) -> bool:
        """Append the next non-empty chunk to the buffer; False at the end of the input."""
        while True:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                return False
            except Exception:
                self.source_failed = True
                raise
            if chunk:
                if self._pos:
                    del self._buf[: self._pos]
                    self._pos = 0
                self._buf += chunk
                return True

    def _available(self) -> int:
        return len(self._buf) - self._pos

    def peek(self, n: int) -> bytes:
        """Up to `n` bytes ahead, fewer only at the end of the input."""
        while self._available() < n and self._more():
            pass
        return bytes(self._buf[self._pos : self._pos + n])

    def read(self, n: int) -> bytes:
        self.peek(n)
        return self._take(min(n, self._available()))

    def _take(self, n: int) -> bytes:
        """Consume `n` bytes that are already in the buffer."""
        data = bytes(self._buf[self._pos : self._pos + n])
        self._pos += n
        self.offset += n
        return data

    def pieces(self, n: int) -> Iterator[bytes]:
        """Consume up to `n` bytes (fewer at the end of the input), a piece at a time."""
        while n > 0 and (self._available() or self._more()):
            piece = self._take(min(n, self._available(), _COPY_PIECE))
            n -= len(piece)
            yield piece

    def rest(self) -> Iterator[bytes]:
        while self._available() or self._more():
            yield self._take(min(self._available(), _COPY_PIECE))

    def skip_fill(self) -> Iterator[bytes]:
        """Consume a run of 0xFF bytes except its last byte (which begins a JPEG marker)."""
        while True:
            match = _NOT_FF.search(self._buf, self._pos)
            end = match.start() if match else len(self._buf)
            if end - self._pos > 1:
                yield self._take(end - self._pos - 1)
            if match or not self._more():
                return

    def scan_entropy(self) -> Iterator[bytes]:
        """Consume entropy-coded data up to the next marker, or to the end of the input."""
        while self._available() or self._more():
            match = _ENTROPY_MARKER.search(self._buf, self._pos)
            if match:
                if match.start() > self._pos:
                    yield self._take(match.start() - self._pos)
                return
            # A final 0xFF may be the first byte of a marker split across chunks: keep it back.
            end = len(self._buf) - (1 if self._buf.endswith(b"\xff") else 0)
            if end > self._pos:
                yield self._take(end - self._pos)
            if not self._more():
                yield self._take(self._available())
                return


# --- JPEG ----------------------------------------------------------------------------------------

_NOT_FF = re.compile(rb"[^\xff]")
# After SOS, 0xFF is followed by 0x00 (stuffing), a restart marker (D0-D7), a fill byte or, in
# JPEG-LS, a byte below 0x80; anything in C0-CF or D8-FE ends the entropy-coded segment.
_ENTROPY_MARKER = re.compile(rb"\xff[\xc0-\xcf\xd8-\xfe]")
_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-RST7: no length field
_HEADER, _SCAN, _AFTER_EOI = range(3)


def _jpeg_kind(code: int, body: bytes) -> str | None:
    """What a segment is, if it is to be dropped; None to keep it."""
    if code == 0xE1:
        if body.startswith(b"Exif\0"):
            orientation = _exif_orientation(body)
            minimal = orientation is not None and _oriented_exif(orientation)[4:] == body
            return None if minimal else "Exif"
        if body.startswith(b"http://ns.adobe.com/xap/1.0/\0"):
            return "XMP"
        if body.startswith(b"http://ns.adobe.com/xmp/extension/\0"):
            return "XMP (extended)"
        return "APP1"
    if code == 0xE2:
        if body.startswith(b"ICC_PROFILE\0"):
            return None
        return "MPF" if body.startswith(b"MPF\0") else "APP2"
    if code == 0xED:
        return "Photoshop/IPTC"
    if code == 0xFE:
        return "COM"
    if 0xE3 <= code <= 0xEF and code != 0xEE:  # APP3-APP13 and APP15; APP14 (Adobe) stays
        return f"APP{code - 0xE0}"
    return None  # APP0, APP14, tables, frames, scans and everything else


_ORIENTATION_TAG, _SHORT = 0x0112, 3


def _exif_orientation(body: bytes) -> int | None:
    """The Orientation (1-8) in IFD0 of an APP1 Exif body, None if absent or unreadable."""
    tiff = body[6:]
    if tiff[:2] not in (b"II", b"MM") or len(tiff) < 8:
        return None
    little = tiff[:2] == b"II"

    def number(at: int, size: int) -> int:
        return int.from_bytes(tiff[at : at + size], "little" if little else "big")

    ifd = number(4, 4)
    if ifd + 2 > len(tiff):
        return None
    for index in range(number(ifd, 2)):
        entry = ifd + 2 + 12 * index
        if entry + 12 > len(tiff):
            return None
        if number(entry, 2) == _ORIENTATION_TAG and number(entry + 2, 2) == _SHORT:
            value = number(entry + 8, 2)
            return value if 1 <= value <= 8 else None
    return None


def _oriented_exif(orientation: int) -> bytes:
    """A whole APP1 segment: EXIF with one IFD holding only the Orientation tag."""
    ifd = (1).to_bytes(2, "big") + _ORIENTATION_TAG.to_bytes(2, "big") + _SHORT.to_bytes(2, "big")
    ifd += (1).to_bytes(4, "big") + orientation.to_bytes(2, "big") + bytes(2) + bytes(4)
    body = b"Exif\0\0MM\0*" + (8).to_bytes(4, "big") + ifd
    return b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body


def _walk_jpeg(reader: _Reader, plan: StripReport | None) -> Iterator[_Event]:
    yield _UNIT, 0, None
    yield _KEEP, reader.read(2)  # SOI
    block = 0  # where the latest block began: an unexpected byte after it puts it in doubt
    state = _HEADER
    while True:
        if state == _AFTER_EOI:
            if reader.peek(3) != b"\xff\xd8\xff":
                return  # whatever follows the image is copied as it is
            block = reader.offset
            yield _UNIT, block, None
            yield _KEEP, reader.read(2)  # the SOI of an appended image (MPF preview, gain map)
            state = _HEADER
            continue
        if state == _SCAN:
            for piece in reader.scan_entropy():
                yield _KEEP, piece
        else:
            head = reader.peek(1)
            if not head:
                return  # the file ends where the latest block does
            if head != b"\xff":
                yield _BROKEN, block, "no marker where one should be"
                return
            for piece in reader.skip_fill():
                yield _KEEP, piece
        head = reader.peek(4)
        if len(head) < 2:
            if state == _SCAN and not head:
                return  # truncated inside the entropy-coded data: all of it was kept
            yield _BROKEN, block, "truncated marker"
            return
        code = head[1]
        if code == 0x00 or code == _SOI:
            yield _BROKEN, block, "unexpected marker"
            return
        block = reader.offset
        if code in _STANDALONE or code == _EOI:
            yield _UNIT, block, None
            yield _KEEP, reader.read(2)
            state = _AFTER_EOI if code == _EOI else _HEADER
            continue
        length = int.from_bytes(head[2:4], "big") if len(head) == 4 else 0
        segment = reader.peek(2 + length)
        kind = _jpeg_kind(code, segment[4:])
        yield _UNIT, block, kind
        if plan is not None and kind == "Exif" and len(segment) == 2 + length:
            orientation = _exif_orientation(segment[4:])
            if orientation is not None and orientation != 1:
                yield _INSERT, _oriented_exif(orientation)
        yield (_DROP if kind else _KEEP), reader.read(len(segment))
        if length < 2 or len(segment) < 2 + length:
            yield _BROKEN, block, "truncated segment" if length >= 2 else "bad segment length"
            return
        state = _SCAN if code == _SOS else _HEADER


# --- PNG -----------------------------------------------------------------------------------------

_PNG_DROP = frozenset({b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"})
_PNG_MAX_LENGTH = 2**31 - 1


def _walk_png(reader: _Reader, plan: StripReport | None) -> Iterator[_Event]:
    yield _UNIT, 0, None
    yield _KEEP, reader.read(8)  # signature
    while True:
        start = reader.offset
        head = reader.peek(8)
        if not head:
            return  # no IEND, but the file ends where a chunk does
        length, ctype = int.from_bytes(head[:4], "big"), head[4:8]
        if len(head) < 8 or length > _PNG_MAX_LENGTH or not ctype.isalpha():
            # Every chunk before this one was confirmed by its CRC (or is kept anyway).
            yield _BROKEN, start, "bad chunk header"
            return
        kind = ctype.decode("ascii") if ctype in _PNG_DROP else None
        action = _DROP if kind else _KEEP
        yield _UNIT, start, kind
        yield action, reader.read(8)
        crc, got = zlib.crc32(ctype), 0
        for piece in reader.pieces(length):
            if kind:
                crc = zlib.crc32(piece, crc)
            got += len(piece)
            yield action, piece
        stored = reader.read(4)
        yield action, stored
        if got < length or len(stored) < 4:
            yield _BROKEN, start, "truncated chunk"
            return
        if kind and int.from_bytes(stored, "big") != crc:
            yield _BROKEN, start, "CRC mismatch"
            return
        if ctype == b"IEND":
            return  # anything after IEND is copied as it is


# --- WebP ----------------------------------------------------------------------------------------

_WEBP_DROP = {b"EXIF": "Exif", b"XMP ": "XMP"}
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def _walk_webp(reader: _Reader, plan: StripReport | None) -> Iterator[_Event]:
    header = reader.read(12)
    size = int.from_bytes(header[4:8], "little")
    riff_end = 8 + size
    yield _UNIT, 0, None
    if plan is not None and plan.removed_bytes:
        header = header[:4] + (size - plan.removed_bytes).to_bytes(4, "little") + header[8:]
    yield _KEEP, header
    block = 0
    while reader.offset < riff_end:
        start = reader.offset
        head = reader.peek(8)
        if not head:
            return  # truncated, but at a chunk boundary
        csize = int.from_bytes(head[4:8], "little")
        if (
            len(head) < 8
            or riff_end - start < 8
            or not all(0x20 <= byte <= 0x7E for byte in head[:4])
            or start + 8 + csize > riff_end
        ):
            yield _BROKEN, block, "bad chunk header"
            return
        fourcc = head[:4]
        kind = _WEBP_DROP.get(fourcc)
        action = _DROP if kind else _KEEP
        block = start
        yield _UNIT, block, kind
        yield action, reader.read(8)
        total = min(csize + (csize & 1), riff_end - start - 8)  # payload and padding byte
        if fourcc == b"VP8X" and csize >= 1:
            flags = reader.read(1)
            if plan is not None and flags:
                flags = bytes([flags[0] & ~_vp8x_cleared(plan) & 0xFF])
            yield _KEEP, flags
            total -= len(flags)
        got = 0
        for piece in reader.pieces(total):
            got += len(piece)
            yield action, piece
        if got < total:
            yield _BROKEN, block, "truncated chunk"
            return
    # anything after the RIFF's declared end is copied as it is


def _vp8x_cleared(plan: StripReport) -> int:
    return (_VP8X_EXIF if "Exif" in plan.removed else 0) | (
        _VP8X_XMP if "XMP" in plan.removed else 0
    )
