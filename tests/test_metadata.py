"""Uploaded images lose their metadata (DESIGN.md, Anonymity): the specification of
service.sealing.metadata, and of storing an attachment, which strips whatever way a file came in.

The files here are real images built byte by byte: a 16x8 grey baseline JPEG, a 2x1 PNG and a
1x1 lossless WebP, each decodable (checked with djpeg, pngcheck and dwebp when they were
written). They get the metadata a phone or an editor adds: a real EXIF structure with a GPS
position, the camera's serial number and the time (exiftool reads it), an XMP packet, and
segments or chunks of every other kind carrying just their identifier and a few words. Whatever
identifies carries the marker LEAK, so "no LEAK in the output" is the privacy half of a test; the
other half is that every byte of the image itself comes out unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import random
import re
import struct
import tracemalloc
import zlib
from collections.abc import Iterator
from typing import IO, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

import service.sealing.metadata
from service.cases.casework import open_attachment_for_handler
from service.cases.intake import Submission, submit_case
from service.models import Attachment, Author, CaseKind
from service.platform.db import get_database
from service.sealing import keyring
from service.sealing.casefiles import (
    AttachmentInfo,
    attachment_info,
    iter_attachment,
    store_attachment,
)
from service.sealing.metadata import MetadataError, StripReport, strip_metadata
from service.web.uploads import EncryptedSpool, SpooledUpload

PROPERTY = settings(max_examples=100, deadline=None)
LEAK = b"LEAK"
GPS_POSITION = b"LEAK GPS 21.028500N 105.854200E"


def strip(*chunks: bytes, report: StripReport | None = None) -> bytes:
    """The stripped file, the input given in the chunks as written."""
    return b"".join(strip_metadata(lambda: chunks, report))


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def is_subsequence(small: bytes, big: bytes) -> bool:
    remaining = iter(big)
    return all(byte in remaining for byte in small)


# --- EXIF, as a phone writes it -------------------------------------------------------------------


def tiff_ifd(entries: list[tuple[int, int, int, bytes]], offset: int) -> bytes:
    """One big-endian IFD placed at `offset`, its longer values right after it."""
    table = struct.pack(">H", len(entries))
    values = b""
    values_at = offset + 2 + 12 * len(entries) + 4
    for tag, kind, count, value in sorted(entries):
        if len(value) <= 4:
            table += struct.pack(">HHI", tag, kind, count) + value.ljust(4, b"\0")
        else:
            table += struct.pack(">HHII", tag, kind, count, values_at + len(values))
            values += value + b"\0" * (len(value) % 2)
    return table + b"\0\0\0\0" + values


def ascii_value(text: bytes) -> tuple[int, int, bytes]:
    return 2, len(text) + 1, text + b"\0"


def rationals(*pairs: tuple[int, int]) -> tuple[int, int, bytes]:
    return 5, len(pairs), b"".join(struct.pack(">II", n, d) for n, d in pairs)


def exif_tiff(orientation: int = 1) -> bytes:
    """IFD0 (make, orientation) -> Exif IFD (serial number, time) and GPS IFD (position).

    Upright by default, so that everything goes; a rotated photo keeps its orientation (see
    ROTATED_JPEG)."""
    exif_ifd = [
        (0xA431, *ascii_value(b"LEAK-SERIAL-R58N12ABCDE")),  # BodySerialNumber
        (0x9003, *ascii_value(b"2026:03:14 09:26:53")),  # DateTimeOriginal
    ]
    method = b"ASCII\0\0\0" + GPS_POSITION
    gps_ifd = [
        (0x0001, *ascii_value(b"N")),
        (0x0002, *rationals((21, 1), (1, 1), (4260, 100))),
        (0x0003, *ascii_value(b"E")),
        (0x0004, *rationals((105, 1), (51, 1), (1512, 100))),
        (0x001B, 7, len(method), method),  # GPSProcessingMethod
    ]

    def ifd0(exif_at: int, gps_at: int) -> list[tuple[int, int, int, bytes]]:
        return [
            (0x010F, *ascii_value(b"LEAK-PhoneMaker")),  # Make
            (0x0112, 3, 1, struct.pack(">H", orientation)),  # 6: rotate 90 degrees to display
            (0x8769, 4, 1, struct.pack(">I", exif_at)),
            (0x8825, 4, 1, struct.pack(">I", gps_at)),
        ]

    exif_at = 8 + len(tiff_ifd(ifd0(0, 0), 8))
    exif = tiff_ifd(exif_ifd, exif_at)
    gps_at = exif_at + len(exif)
    return (
        b"MM\0*"
        + struct.pack(">I", 8)
        + tiff_ifd(ifd0(exif_at, gps_at), 8)
        + exif
        + (tiff_ifd(gps_ifd, gps_at))
    )


XMP_PACKET = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    b'syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'dc:creator="LEAK Nguyen Van A"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)
ICC_PROFILE = b"\0\0\x01\x00KEEP colour profile" + bytes(100)  # colour, not identity: it stays


# --- JPEG -----------------------------------------------------------------------------------------


def segment(code: int, body: bytes) -> bytes:
    return bytes([0xFF, code]) + struct.pack(">H", len(body) + 2) + body


SOI, EOI = b"\xff\xd8", b"\xff\xd9"
JFIF = segment(0xE0, b"JFIF\0\x01\x01\x00\x00\x01\x00\x01\x00\x00")
ICC = segment(0xE2, b"ICC_PROFILE\0\x01\x01" + ICC_PROFILE)
ADOBE = segment(0xEE, b"Adobe\0\x64\x00\x00\x00\x00\x00")
EXIF = segment(0xE1, b"Exif\0\0" + exif_tiff())
XMP = segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0" + XMP_PACKET)
XMP_EXTENDED = segment(0xE1, b"http://ns.adobe.com/xmp/extension/\0" + b"0" * 40 + b"LEAK more")
MPF = segment(0xE2, b"MPF\0MM\0*\0\0\0\x08LEAK index of the preview images")
C2PA = segment(0xEB, b"JP\0\x01LEAK content credentials, signed by the phone")  # APP11
IPTC = segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\0\0\0\0\0\x10\x1c\x02\x50\0\x0aLEAK bylin")
APP15 = segment(0xEF, b"LEAK vendor data")
COMMENT = segment(0xFE, b"LEAK taken on the third floor")

# Every coefficient zero (mid-grey): per 8x8 block, DC code "0" (no change) and AC code "0"
# (end of block), padded with 1-bits: 0x3F. Two blocks, a restart marker between them.
DQT = segment(0xDB, b"\x00" + bytes([1] * 64))
SOF0 = segment(0xC0, b"\x08\x00\x08\x00\x10\x01\x01\x11\x00")  # 8 bits, 16x8, one component
DHT_DC = segment(0xC4, b"\x00" + bytes([1] + [0] * 15) + b"\x00")
DHT_AC = segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00")
DRI = segment(0xDD, b"\x00\x01")
SOS = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
SCAN = b"\x3f\xff\xd0\x3f"
PIXELS = [DQT, SOF0, DHT_DC, DHT_AC, DRI, SOS, SCAN, EOI]

# (bytes, is identifying metadata), in file order: what a phone and an editor leave in a photo.
RICH_JPEG_PARTS = [
    (SOI, False),
    (JFIF, False),
    (EXIF, True),
    (XMP, True),
    (XMP_EXTENDED, True),
    (ICC, False),
    (MPF, True),
    (C2PA, True),
    (IPTC, True),
    (ADOBE, False),
    (APP15, True),
    (COMMENT, True),
    *((part, False) for part in PIXELS),
]


def joined(parts: list[tuple[bytes, bool]], *, metadata: bool = True) -> bytes:
    return b"".join(data for data, is_metadata in parts if metadata or not is_metadata)


RICH_JPEG = joined(RICH_JPEG_PARTS)
CLEAN_JPEG = joined(RICH_JPEG_PARTS, metadata=False)


def jpeg(*extra: bytes) -> bytes:
    """The grey image with `extra` segments after its JFIF header."""
    return b"".join([SOI, JFIF, *extra, *PIXELS])


def jpeg_markers(data: bytes) -> list[tuple[int, bytes]]:
    """An independent reading of a JPEG: each marker with its segment body, in order."""
    markers, i = [], 0
    while i < len(data):
        assert data[i] == 0xFF, f"no marker at offset {i}"
        while data[i + 1] == 0xFF:
            i += 1  # fill byte
        code = data[i + 1]
        if code == 0x01 or 0xD0 <= code <= 0xD9:  # TEM, RSTn, SOI, EOI: no length
            markers.append((code, b""))
            i += 2
            if code == 0xD9 and not data.startswith(SOI, i):
                break  # what follows the image is not ours to read
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        body = data[i + 4 : i + 2 + length]
        assert len(body) == length - 2, f"segment {code:#x} at {i} is cut short"
        markers.append((code, body))
        i += 2 + length
        if code == 0xDA:  # entropy-coded data runs to the next marker that is not RSTn
            found = re.compile(rb"\xff[^\x00\xd0-\xd7]").search(data, i)
            i = found.start() if found else len(data)
    return markers


def test_a_photo_loses_its_exif_xmp_comments_and_iptc():
    report = StripReport()
    stripped = strip(RICH_JPEG, report=report)
    assert GPS_POSITION in RICH_JPEG and b"LEAK-SERIAL" in RICH_JPEG
    assert LEAK not in stripped
    assert report.format == "jpeg"
    assert report.removed == {
        "Exif": 1,
        "XMP": 1,
        "XMP (extended)": 1,
        "MPF": 1,
        "APP11": 1,
        "Photoshop/IPTC": 1,
        "APP15": 1,
        "COM": 1,
    }
    assert report.removed_bytes == len(RICH_JPEG) - len(stripped)
    assert report.intact_from is None and report.stripped


def test_every_other_byte_of_the_photo_is_unchanged():
    """JFIF, colour profile, Adobe transform, tables, frame, scan: byte for byte, in order."""
    assert strip(RICH_JPEG) == CLEAN_JPEG
    assert [code for code, _ in jpeg_markers(CLEAN_JPEG)] == [
        0xD8, 0xE0, 0xE2, 0xEE, 0xDB, 0xC0, 0xC4, 0xC4, 0xDD, 0xDA, 0xD9,
    ]  # fmt: skip
    assert b"KEEP colour profile" in CLEAN_JPEG


def oriented_exif(orientation: int) -> bytes:
    """Written independently of the module: APP1, Exif, big-endian TIFF, one IFD, one SHORT."""
    ifd = struct.pack(">HHHIHHI", 1, 0x0112, 3, 1, orientation, 0, 0)
    return segment(0xE1, b"Exif\0\0MM\0*" + struct.pack(">I", 8) + ifd)


ROTATED_EXIF = segment(0xE1, b"Exif\0\0" + exif_tiff(orientation=6))
ROTATED_JPEG = jpeg(ROTATED_EXIF, XMP, ICC)


def test_a_rotated_photo_keeps_only_its_orientation():
    report = StripReport()
    assert strip(ROTATED_JPEG, report=report) == jpeg(oriented_exif(6), ICC)
    assert report.removed == {"Exif": 1, "XMP": 1} and report.intact_from is None
    assert GPS_POSITION not in strip(ROTATED_JPEG) and LEAK not in strip(ROTATED_JPEG)


def test_a_photo_with_only_its_orientation_left_is_left_alone():
    report = StripReport()
    cleaned = jpeg(oriented_exif(8), ICC)
    assert strip(cleaned, report=report) == cleaned and not report.stripped


def test_a_little_endian_orientation_is_read_too():
    ifd = struct.pack("<HHHIHHI", 1, 0x0112, 3, 1, 3, 0, 0)
    little = segment(0xE1, b"Exif\0\0II*\0" + struct.pack("<I", 8) + ifd + b"LEAK")
    assert strip(jpeg(little)) == jpeg(oriented_exif(3))


@pytest.mark.parametrize("orientation", [1, 0, 9, 0xFFFF])
def test_an_upright_or_meaningless_orientation_goes_with_the_exif(orientation):
    exif = segment(0xE1, b"Exif\0\0" + exif_tiff(orientation=orientation))
    assert strip(jpeg(exif)) == jpeg()


def test_a_stripped_photo_is_left_alone_the_second_time():
    report = StripReport()
    assert strip(CLEAN_JPEG, report=report) == CLEAN_JPEG
    assert report.format == "jpeg" and not report.stripped and report.intact_from is None


@pytest.mark.parametrize(
    ("code", "body", "kept"),
    [
        (0xE0, b"JFIF\0\x01\x02\x00\x00\x01\x00\x01\x00\x00", True),
        (0xE0, b"JFXX\0\x13\x01\x01" + bytes(3), True),  # JFIF extension (thumbnail)
        (0xE1, b"Exif\0\0" + exif_tiff(), False),
        (0xE1, b"http://ns.adobe.com/xap/1.0/\0" + XMP_PACKET, False),
        (0xE1, b"http://ns.adobe.com/xmp/extension/\0LEAK", False),
        (0xE1, b"LEAK anything else in APP1", False),
        (0xE2, b"ICC_PROFILE\0\x01\x01" + ICC_PROFILE, True),
        (0xE2, b"MPF\0LEAK", False),  # indexes preview images that carry their own EXIF
        (0xE2, b"FPXR\0LEAK", False),
        *((code, b"LEAK APP%d" % (code - 0xE0), False) for code in range(0xE3, 0xED)),
        (0xED, b"Photoshop 3.0\0LEAK", False),  # APP13: IPTC
        (0xEE, b"Adobe\0\x64\x00\x00\x00\x00\x01", True),  # APP14: needed to decode colours
        (0xEF, b"LEAK APP15", False),
        (0xFE, b"LEAK comment", False),
    ],
)
def test_which_segments_are_dropped_and_which_are_kept(code, body, kept):
    image = jpeg(segment(code, body))
    assert strip(image) == (image if kept else jpeg())


def test_fill_bytes_and_standalone_markers_are_understood():
    """0xFF padding before any marker, TEM, and RST inside the scan do not confuse the walk."""
    fill, tem, scan = b"\xff\xff", b"\xff\x01", PIXELS[:-1]
    image = b"".join([SOI, JFIF, fill, EXIF, tem, fill, COMMENT, *scan, fill, EOI])
    assert strip(image) == b"".join([SOI, JFIF, fill, tem, fill, *scan, fill, EOI])


def test_metadata_between_the_scans_of_a_progressive_jpeg_goes_too():
    first_scan = b"\x12\xff\x00\x34\xff\xd1\x56"  # a stuffed 0xFF and a restart marker
    second_scan = b"\x9a\xff\x00\xbc"
    before, between = [SOI, JFIF, EXIF, DQT, SOF0, DHT_DC], [DHT_AC, COMMENT, XMP]
    image = b"".join([*before, SOS, first_scan, *between, SOS, second_scan, EOI])
    expected = b"".join(
        [SOI, JFIF, DQT, SOF0, DHT_DC, SOS, first_scan, DHT_AC, SOS, second_scan, EOI]
    )
    assert strip(image) == expected


def test_preview_images_appended_after_the_photo_lose_their_exif_too():
    """MPF (multi-picture) files and Ultra HDR gain maps are JPEGs appended after EOI."""
    preview = jpeg(EXIF, COMMENT)
    report = StripReport()
    assert strip(RICH_JPEG + preview, report=report) == CLEAN_JPEG + jpeg()
    assert report.removed["Exif"] == 2


def test_other_data_after_the_photo_is_copied_as_it_is():
    """A motion photo's video or a vendor trailer is not an image we strip (a known limit)."""
    video = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free"
    assert strip(RICH_JPEG + video) == CLEAN_JPEG + video


def test_a_photo_cut_short_inside_the_image_data_still_loses_its_metadata():
    report = StripReport()
    assert strip(RICH_JPEG[:-3], report=report) == CLEAN_JPEG[:-3]  # inside the scan: no EOI
    assert report.stripped and report.intact_from is None


# --- malformed JPEGs: the evidence survives -------------------------------------------------------


def test_a_segment_whose_length_runs_past_the_end_is_kept_with_everything_after_it():
    bad = segment(0xE1, b"Exif\0\0LEAK")[:2] + b"\xff\xf0" + b"Exif\0\0LEAK"
    image = SOI + JFIF + COMMENT + bad + b"".join(PIXELS)
    report = StripReport()
    assert strip(image, report=report) == SOI + JFIF + bad + b"".join(PIXELS)
    assert report.intact_from == len(SOI + JFIF + COMMENT)
    assert report.problem == "truncated segment"


def test_a_wrong_length_that_lands_off_a_marker_keeps_the_segment_and_what_follows():
    """Had we trusted the length, the DQT swallowed by it would be lost with the metadata."""
    too_long = bytearray(COMMENT)
    too_long[2:4] = struct.pack(">H", len(COMMENT) - 2 + 10)
    image = SOI + JFIF + EXIF + bytes(too_long) + b"".join(PIXELS)
    report = StripReport()
    assert strip(image, report=report) == SOI + JFIF + bytes(too_long) + b"".join(PIXELS)
    assert report.removed == {"Exif": 1}
    assert report.problem == "no marker where one should be"


@pytest.mark.parametrize("length", [0, 1])
def test_an_impossible_segment_length_keeps_the_rest_unchanged(length):
    image = SOI + JFIF + EXIF + b"\xff\xe1" + struct.pack(">H", length) + b"LEAK" + EOI
    assert strip(image) == SOI + JFIF + b"\xff\xe1" + struct.pack(">H", length) + b"LEAK" + EOI


def test_garbage_after_the_start_of_image_passes_through_unchanged():
    image = SOI + b"\xffLEAK not a marker" + EXIF
    assert strip(image) == image


def after_cut(parts: list[tuple[bytes, bool]], cut: int, confirm: int) -> bytes:
    """The file cut after `cut` bytes, minus each metadata block that ends at the cut or is
    followed by `confirm` bytes of the next block's header."""
    out, offset = b"", 0
    for data, is_metadata in parts:
        end = offset + len(data)
        if not (is_metadata and (end == cut or end + confirm <= cut)):
            out += data[: max(0, cut - offset)]
        offset = end
    return out


def test_a_photo_cut_anywhere_loses_only_confirmed_metadata_and_no_image_byte():
    """A segment goes once the bytes after it show the next marker (or the file ends there)."""
    for cut in range(len(RICH_JPEG) + 1):
        assert strip(RICH_JPEG[:cut]) == after_cut(RICH_JPEG_PARTS, cut, confirm=2), cut


# --- PNG ------------------------------------------------------------------------------------------


def png_chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_PIXELS = zlib.compress(b"\x00" + bytes([200, 30, 30, 30, 30, 200]))  # 2x1 RGB, filter 0
IDAT = png_chunk(b"IDAT", PNG_PIXELS[:5]), png_chunk(b"IDAT", PNG_PIXELS[5:])
RICH_PNG_PARTS = [
    (PNG_SIGNATURE, False),
    (png_chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)), False),
    (png_chunk(b"gAMA", struct.pack(">I", 45455)), False),
    (png_chunk(b"iCCP", b"KEEP profile\0\0" + zlib.compress(ICC_PROFILE)), False),
    (png_chunk(b"tEXt", b"Author\0LEAK Nguyen Van A"), True),
    (png_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"LEAK compressed comment")), True),
    (png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + XMP_PACKET), True),
    (png_chunk(b"eXIf", exif_tiff()), True),
    (png_chunk(b"tIME", struct.pack(">HBBBBB", 2026, 3, 14, 9, 26, 53)), True),
    (png_chunk(b"pHYs", struct.pack(">IIB", 3780, 3780, 1)), False),
    (IDAT[0], False),
    (IDAT[1], False),
    (png_chunk(b"tEXt", b"Comment\0LEAK written after the image data"), True),
    (png_chunk(b"IEND", b""), False),
]
RICH_PNG = joined(RICH_PNG_PARTS)
CLEAN_PNG = joined(RICH_PNG_PARTS, metadata=False)


def png_chunks(data: bytes) -> list[bytes]:
    """An independent reading of a PNG: chunk types in order, every CRC checked."""
    assert data.startswith(PNG_SIGNATURE)
    types, i = [], len(PNG_SIGNATURE)
    while i < len(data):
        length = int.from_bytes(data[i : i + 4], "big")
        ctype, body = data[i + 4 : i + 8], data[i + 8 : i + 8 + length]
        crc = int.from_bytes(data[i + 8 + length : i + 12 + length], "big")
        assert crc == zlib.crc32(ctype + body), f"bad CRC in {ctype!r}"
        types.append(ctype)
        i += 12 + length
    assert i == len(data)
    return types


def test_a_png_loses_its_text_exif_and_time_chunks():
    report = StripReport()
    stripped = strip(RICH_PNG, report=report)
    assert LEAK not in stripped and b"zTXt" not in stripped
    assert report.removed == {"tEXt": 2, "zTXt": 1, "iTXt": 1, "eXIf": 1, "tIME": 1}
    assert report.removed_bytes == len(RICH_PNG) - len(stripped)


def test_every_other_png_chunk_is_unchanged_and_every_crc_still_holds():
    stripped = strip(RICH_PNG)
    assert stripped == CLEAN_PNG
    assert png_chunks(stripped) == [b"IHDR", b"gAMA", b"iCCP", b"pHYs", b"IDAT", b"IDAT", b"IEND"]


def test_a_metadata_chunk_with_a_wrong_crc_is_kept_with_everything_after_it():
    damaged = bytearray(RICH_PNG_PARTS[6][0])  # the iTXt: text and CRC no longer agree
    damaged[-1] ^= 0x01
    parts = [*RICH_PNG_PARTS[:6], (bytes(damaged), True), *RICH_PNG_PARTS[7:]]
    image = joined(parts)
    report = StripReport()
    stripped = strip(image, report=report)
    assert stripped == joined(parts[:6], metadata=False) + joined(parts[6:])
    assert report.problem == "CRC mismatch"
    assert report.removed == {"tEXt": 1, "zTXt": 1}


def test_an_impossible_chunk_length_keeps_the_rest_unchanged():
    bogus = b"\xff\xff\xff\xfftEXtLEAK"
    image = joined(RICH_PNG_PARTS[:5]) + bogus
    assert strip(image) == joined(RICH_PNG_PARTS[:4]) + bogus


def test_a_png_cut_anywhere_loses_only_whole_metadata_chunks():
    """A chunk is confirmed by its CRC: once that is in, the chunk can go."""
    for cut in range(len(RICH_PNG) + 1):
        assert strip(RICH_PNG[:cut]) == after_cut(RICH_PNG_PARTS, cut, confirm=0), cut


# --- WebP -----------------------------------------------------------------------------------------

LOSSLESS_1X1 = base64.b64decode("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
VP8L = LOSSLESS_1X1[12:]  # 13 bytes of payload: an odd size, so a padding byte follows
VP8X_ICC, VP8X_ALPHA, VP8X_EXIF, VP8X_XMP = 0x20, 0x10, 0x08, 0x04


def riff_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) % 2)


def vp8x(flags: int) -> bytes:
    return riff_chunk(b"VP8X", bytes([flags, 0, 0, 0]) + b"\0\0\0" + b"\0\0\0")  # 1x1 canvas


def webp(*chunks: bytes) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


WEBP_EXIF = riff_chunk(b"EXIF", exif_tiff())
WEBP_XMP = riff_chunk(b"XMP ", XMP_PACKET + b"!")  # odd: padded
ICCP = riff_chunk(b"ICCP", ICC_PROFILE)
RICH_WEBP = webp(
    vp8x(VP8X_ICC | VP8X_ALPHA | VP8X_EXIF | VP8X_XMP), ICCP, VP8L, WEBP_EXIF, WEBP_XMP
)
CLEAN_WEBP = webp(vp8x(VP8X_ICC | VP8X_ALPHA), ICCP, VP8L)


def riff_chunks(data: bytes) -> list[bytes]:
    """An independent reading of a WebP: the RIFF size is the file's, chunks fill it exactly."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert int.from_bytes(data[4:8], "little") == len(data) - 8
    fourccs, i = [], 12
    while i < len(data):
        size = int.from_bytes(data[i + 4 : i + 8], "little")
        fourccs.append(data[i : i + 4])
        i += 8 + size + size % 2
    assert i == len(data)
    return fourccs


def test_a_webp_loses_its_exif_and_xmp_and_says_so_in_its_header():
    report = StripReport()
    stripped = strip(RICH_WEBP, report=report)
    assert stripped == CLEAN_WEBP
    assert LEAK not in stripped
    assert riff_chunks(stripped) == [b"VP8X", b"ICCP", b"VP8L"]
    assert stripped[20] == VP8X_ICC | VP8X_ALPHA  # EXIF and XMP flags cleared
    assert report.removed == {"Exif": 1, "XMP": 1}


def test_a_simple_webp_without_metadata_is_unchanged():
    assert strip(LOSSLESS_1X1) == LOSSLESS_1X1


def test_a_webp_chunk_running_past_the_riff_is_kept_with_everything_after_it():
    bogus = b"EXIF" + struct.pack("<I", 1000) + b"LEAK"
    image = webp(vp8x(VP8X_EXIF), VP8L, WEBP_XMP, bogus)
    report = StripReport()
    assert strip(image, report=report) == image  # the XMP is in doubt too: nothing confirms it
    assert report.intact_from == len(webp(vp8x(VP8X_EXIF), VP8L))


def test_a_webp_cut_anywhere_loses_only_confirmed_metadata():
    parts = [
        (RICH_WEBP[:12], False),
        (vp8x(VP8X_ICC | VP8X_ALPHA | VP8X_EXIF | VP8X_XMP), False),
        (ICCP, False),
        (VP8L, False),
        (WEBP_EXIF, True),
        (WEBP_XMP, True),
    ]
    assert joined(parts) == RICH_WEBP
    for cut in range(len(RICH_WEBP) + 1):
        expected = bytearray(after_cut(parts, cut, confirm=8))
        removed = cut - len(expected)
        if removed:  # the RIFF size and the VP8X flags say what went
            expected[4:8] = struct.pack("<I", len(RICH_WEBP) - 8 - removed)
            expected[20] &= ~VP8X_EXIF  # the EXIF chunk goes first,
            if removed > len(WEBP_EXIF):
                expected[20] &= ~VP8X_XMP  # the XMP chunk only when the whole file is there
        assert strip(RICH_WEBP[:cut]) == expected, cut


# --- every format: chunk boundaries do not matter -------------------------------------------------

IMAGES = {
    "jpeg": RICH_JPEG,
    "jpeg with previews": RICH_JPEG + jpeg(EXIF, COMMENT),
    "rotated jpeg": ROTATED_JPEG,
    "progressive jpeg": b"".join(
        [SOI, EXIF, DQT, SOF0, SOS, b"\x12\xff\x00\xff\xd3\x56", COMMENT, SOS, b"\x9a", EOI]
    ),
    "png": RICH_PNG,
    "webp": RICH_WEBP,
}


@pytest.mark.parametrize("name", IMAGES)
def test_every_split_position_gives_the_same_output(name):
    image = IMAGES[name]
    whole = strip(image)
    assert LEAK not in whole
    for cut in range(len(image) + 1):
        assert strip(image[:cut], image[cut:]) == whole, cut
    assert strip(*(image[i : i + 1] for i in range(len(image)))) == whole


@PROPERTY
@given(name=st.sampled_from(sorted(IMAGES)), data=st.data())
def test_any_chunking_gives_the_same_output(name, data):
    image = IMAGES[name]
    cuts = data.draw(st.lists(st.integers(0, len(image)), max_size=40))
    assert strip(*chunked(image, cuts)) == strip(image)


@PROPERTY
@given(name=st.sampled_from(sorted(IMAGES)), data=st.data())
def test_damaged_images_never_raise_and_never_gain_or_invent_bytes(name, data):
    image = bytearray(IMAGES[name])
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(image) - 1))
        action = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if action == "flip":
            image[at] = data.draw(st.integers(0, 255))
        elif action == "delete":
            del image[at]
        elif action == "insert":
            image[at:at] = data.draw(st.binary(min_size=1, max_size=4))
        else:
            del image[max(at, 12) :]
    damaged = bytes(image)
    cuts = data.draw(st.lists(st.integers(0, len(damaged)), max_size=10))
    stripped = strip(damaged)
    assert strip(*chunked(damaged, cuts)) == stripped
    assert len(stripped) <= len(damaged)
    if not damaged.startswith(b"RIFF"):  # WebP rewrites its header; the others only cut,
        # except for the one invented segment: a rotated photo's orientation, in place of its EXIF
        for orientation in range(2, 9):
            stripped = stripped.replace(oriented_exif(orientation), b"")
        assert is_subsequence(stripped, damaged)


@PROPERTY
@given(magic=st.sampled_from([b"\xff\xd8\xff", PNG_SIGNATURE, RICH_WEBP[:12]]), rest=st.binary())
def test_noise_behind_a_magic_number_never_raises(magic, rest):
    assert len(strip(magic + rest)) <= len(magic) + len(rest)


# --- what is not an image we strip ----------------------------------------------------------------

NOT_STRIPPED = {
    "empty": b"",
    "one byte": b"\xff",
    "too short for JPEG": b"\xff\xd8",
    "PDF": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Author (LEAK Nguyen Van A)>> endobj\n",
    "DOCX": b"PK\x03\x04\x14\x00\x06\x00\x08\x00docProps/core.xml LEAK creator",
    "HEIC": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic....Exif\0\0MM\0*LEAK",
    "TIFF": b"MM\0*\0\0\0\x08" + b"LEAK GPS",
    "WAV": b"RIFF\x24\x00\x00\x00WAVEfmt LEAK",
    "text": "Báo cáo: LEAK".encode(),
}


@pytest.mark.parametrize("name", NOT_STRIPPED)
def test_other_files_pass_through_byte_for_byte_read_once(name):
    data = NOT_STRIPPED[name]
    calls = []

    def source() -> list[bytes]:
        calls.append(1)
        return [data[:5], data[5:]]

    report = StripReport()
    assert b"".join(strip_metadata(source, report)) == data
    assert report.format is None and not report.stripped
    assert len(calls) == 1


# --- the source contract --------------------------------------------------------------------------


def test_an_image_is_read_twice_survey_then_output():
    calls = []

    def source() -> Iterator[bytes]:
        calls.append(1)
        yield RICH_JPEG

    assert b"".join(strip_metadata(source)) == CLEAN_JPEG
    assert len(calls) == 2


def test_a_source_that_cannot_be_read_twice_is_an_error_not_a_leak():
    once = iter([RICH_JPEG])
    with pytest.raises(MetadataError):
        b"".join(strip_metadata(lambda: once))


def test_a_source_that_changes_between_the_passes_is_an_error():
    versions = iter([RICH_JPEG, jpeg(EXIF)])
    with pytest.raises(MetadataError):
        b"".join(strip_metadata(lambda: [next(versions)]))


def test_a_failing_source_raises_its_own_error():
    class SpoolBroken(Exception):
        pass

    def source() -> Iterator[bytes]:
        yield RICH_JPEG[:100]
        raise SpoolBroken

    with pytest.raises(SpoolBroken):
        b"".join(strip_metadata(source))


def test_a_bug_in_the_stripper_keeps_the_file_as_it_came(monkeypatch):
    def broken(code: int, body: bytes) -> str | None:
        raise IndexError("a bug")

    monkeypatch.setattr(service.sealing.metadata, "_jpeg_kind", broken)
    report = StripReport()
    assert strip(RICH_JPEG, report=report) == RICH_JPEG
    assert report.problem == "stripper failed: IndexError"


# --- size: a 50 MB photo streams in bounded memory ------------------------------------------------


def big_scan(total: int) -> tuple[bytes, int]:
    """About 60 KB of entropy-coded data (stuffed 0xFF, restart markers), and a repeat count."""
    rng = random.Random(7)
    block = rng.randbytes(60_000).replace(b"\xff", b"\xff\x00")
    block = b"".join(block[i : i + 4096] + b"\xff\xd0" for i in range(0, len(block), 4096))
    return block, total // len(block)


def test_a_50_mb_photo_streams_in_bounded_memory():
    block, repeats = big_scan(50 * 1024 * 1024)
    head_rich = b"".join([SOI, JFIF, EXIF, XMP, COMMENT, DQT, SOF0, DHT_DC, DHT_AC, SOS])
    head_clean = b"".join([SOI, JFIF, DQT, SOF0, DHT_DC, DHT_AC, SOS])

    def source(head: bytes) -> Iterator[bytes]:
        yield head
        for _ in range(repeats):
            yield block
        yield EOI

    expected = hashlib.sha256()
    for piece in source(head_clean):
        expected.update(piece)

    digest, size = hashlib.sha256(), 0
    tracemalloc.start()
    try:
        for piece in strip_metadata(lambda: source(head_rich)):
            digest.update(piece)
            size += len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == len(head_clean) + repeats * len(block) + len(EOI) > 50_000_000
    assert digest.hexdigest() == expected.hexdigest()
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


# --- in the application ---------------------------------------------------------------------------


def spooled(data: bytes, filename: str = "IMG_0001.jpg") -> SpooledUpload:
    spool = EncryptedSpool(max_bytes=10 * 1024 * 1024)
    for i in range(0, len(data), 1000):
        spool.write(data[i : i + 1000])
    spool.seek(0)  # what Werkzeug does when the upload is complete
    # An EncryptedSpool is a binary stream (io.RawIOBase), read by Werkzeug like any other.
    stream = cast(IO[bytes], spool)
    return SpooledUpload(FileStorage(stream=stream, filename=filename, content_type="image/jpeg"))


def test_the_spool_hands_the_upload_over_as_it_came_and_can_be_read_again():
    # Stripping is the job of storing the file (below), not of the web adapter.
    upload = spooled(RICH_JPEG)
    assert b"".join(upload.iter_chunks()) == RICH_JPEG
    assert upload.size == len(RICH_JPEG)  # as uploaded; the stored size is what was stored
    assert b"".join(upload.iter_chunks()) == RICH_JPEG  # storing an image reads it twice


class BytesUpload:
    """A file that came in some other way than an HTTP upload (a command, a handler's file)."""

    def __init__(self, name: str, data: bytes, chunk: int = 1000) -> None:
        self.filename, self.content_type = name, "image/jpeg"
        self._data, self._chunk = data, chunk

    def iter_chunks(self) -> Iterator[bytes]:
        for i in range(0, len(self._data), self._chunk):
            yield self._data[i : i + self._chunk]


def stored(app, db, world, upload) -> tuple[bytes, AttachmentInfo]:
    """Store `upload` on a new case with the domain function alone; read it back."""
    case = submit_case(
        db,
        world.organisation,
        Submission(kind=CaseKind.PROBLEM, title="Tệp", text="Tệp", body_id=world.cd.id),
    ).case
    keys = keyring.open_case_keys_for_account(
        db, case, world["cd_chair"].account, world["cd_chair"].private_key()
    )
    attachment = store_attachment(
        db,
        case_id=case.id,
        case_key=keys.case,
        upload=upload,
        author=Author.REPORTER,
        position=0,
        uploaded_on=case.received_on,
    )
    db.commit()
    read_session = get_database(app).read_sessionmaker
    content = b"".join(iter_attachment(read_session, attachment, keys.case))
    return content, attachment_info(attachment, keys.case)


def test_storing_a_gps_tagged_photo_stores_it_stripped_whatever_way_it_came(app, db, world):
    assert GPS_POSITION in RICH_JPEG
    content, info = stored(app, db, world, BytesUpload("IMG_0002.jpg", RICH_JPEG))
    assert content == CLEAN_JPEG
    assert GPS_POSITION not in content and LEAK not in content
    assert info.size == len(CLEAN_JPEG) and info.name == "IMG_0002.jpg"


def test_storing_a_document_stores_it_unchanged(app, db, world):
    data = NOT_STRIPPED["PDF"] * 50
    content, info = stored(app, db, world, BytesUpload("report.pdf", data))
    assert content == data and info.size == len(data)


def test_a_filed_photo_reaches_the_handler_without_its_metadata(app, db, world):
    filed = submit_case(
        db,
        world.organisation,
        Submission(
            kind=CaseKind.MISCONDUCT,
            title="Ảnh chụp tại phòng họp",
            text="Xem ảnh đính kèm.",
            body_id=world.cd.id,
            attachments=[spooled(RICH_JPEG)],
        ),
    )
    db.commit()  # the file is read back in sessions of its own
    attachment = db.scalars(select(Attachment).where(Attachment.case_id == filed.case.id)).one()
    handler = world["cd_handler"]
    info, chunks = open_attachment_for_handler(
        db,
        handler.principal(),
        filed.case.id,
        attachment_id=attachment.id,
        read_session=get_database(app).read_sessionmaker,
    )
    assert b"".join(chunks) == CLEAN_JPEG
    assert info.size == len(CLEAN_JPEG) and info.name == "IMG_0001.jpg"
