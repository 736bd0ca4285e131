"""Removing personal metadata from uploaded files: images (metadata.py), Office Open XML, PDF.

`clean_file` is what storing an attachment calls. It sniffs the first bytes: a zip whose
``[Content_Types].xml`` marks it as Office Open XML (DOCX, XLSX, PPTX) and a PDF are rewritten
here; every other file goes through the image stripper of metadata.py (which copies unknown
formats, HEIC/HEIF among them, as is).

What a PDF loses (with pikepdf, i.e. qpdf): the document information dictionary (author,
creator, producer, dates, title, ...), every XMP ``/Metadata`` stream (the catalog's and any
page's, image's or font's), ``/PieceInfo`` (an editor's private data), and the author (``/T``)
and date (``/M``) of comments and other markup annotations (not of form fields, whose ``/T``
is their name). Only the objects still reachable are written, so the earlier revisions of an
incrementally saved file, with their own author, go too. A damaged PDF is not repaired (qpdf's
recovery is off) and an encrypted one cannot be rewritten: both are stored as sent. Memory: the
whole file plus qpdf's object tree plus the output, all bounded by MAX_ATTACHMENT_BYTES;
streams are copied without being decoded.

What an OOXML file loses:

- ``docProps/core.xml``: every core property (author, last modified by, dates, revision, title,
  subject, keywords, description, category, ...); ``docProps/custom.xml``: every custom property;
  ``docProps/app.xml``: Company, Manager, HyperlinkBase and Template (a template path names the
  user's home directory).
- In every XML part of the document (word/, xl/, ppt/): ``author`` and ``initials`` attributes
  (comment and tracked-change authors) are emptied (the schema requires them, so they stay, blank),
  WordprocessingML revision dates (``w:date``) and revision-session identifiers (``w:rsid*``) are
  removed, as is ``w:rsids`` in settings.xml; ``w15:presenceInfo`` (an author's e-mail address in
  people.xml) is removed; the names in a spreadsheet's comment ``author`` list, in ``xl/persons``,
  and in a presentation's comment authors are emptied.
- Embedded images (word/media/, the thumbnail, ...) go through the image stripper, so a photo pasted
  into a document loses its location too.
- The zip itself: every member gets a fixed timestamp (1980-01-01) and no extra fields; the
  archive comment goes.

Memory: a zip is read through its central directory at the end, so the file cannot be streamed.
The upload is decrypted into memory (bounded by MAX_ATTACHMENT_BYTES; it must not touch the disk
in plaintext), the rewritten zip is built in memory too, plus one parsed XML part at a time (an lxml
tree takes a few times its part's size). So about twice the upload plus a few times its largest
XML part; members that are not parsed are recompressed 64 KiB at a time. A part declared larger
than `_MAX_PART` or a zip that expands beyond `_MAX_EXPANDED` is not cleaned (a zip bomb must not
exhaust the server): like a file that cannot be parsed, it is stored as it came and the report says
why.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pikepdf
from lxml import etree

from service.sealing.metadata import Source, StripReport, strip_metadata

__all__ = ["clean_file"]

_ZIP_MAGIC = b"PK\x03\x04"
_PDF_MAGIC = b"%PDF-"
# /Metadata: XMP (the catalog's, and any page's, image's or font's); /PieceInfo: an editing
# application's private data (Illustrator, Acrobat) with its own names and dates.
_PDF_DROP = ("/Metadata", "/PieceInfo")
_MAX_PART = 64 * 1024 * 1024  # declared uncompressed size of one XML part we parse
_MAX_EXPANDED = 512 * 1024 * 1024  # declared uncompressed size of the whole archive
_PIECE = 64 * 1024
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_W15 = "http://schemas.microsoft.com/office/word/2012/wordml"
_CUSTOM = "docProps/custom.xml"
_CORE = "docProps/core.xml"
_APP = "docProps/app.xml"
_APP_DROP = frozenset({"Company", "Manager", "HyperlinkBase", "Template"})
_BLANK_ATTRIBUTES = frozenset({"author", "initials"})
# Attributes that name a person on specific elements: (element's local name, attribute).
_BLANK_ON = frozenset(
    {
        ("person", "displayName"),  # xl/persons/person.xml
        ("person", "userId"),
        ("person", "providerId"),
        ("cmAuthor", "name"),  # ppt/commentAuthors.xml
        ("author", "name"),  # ppt/authors.xml
        ("author", "userId"),
        ("author", "providerId"),
    }
)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class _NotCleaned(Exception):
    """The document cannot be cleaned safely; it is stored as it came."""


def clean_file(source: Source, report: StripReport) -> Iterator[bytes]:
    """Stream `source()` minus its identifying metadata; `report` says what was done."""
    chunks = iter(source())
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= len(_PDF_MAGIC):
            break
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
    if head.startswith(_ZIP_MAGIC):
        return _clean_zip(source, report)
    if head.startswith(_PDF_MAGIC):
        return _clean_pdf(source, report)
    return strip_metadata(source, report)


def _as_sent(data: bytes, report: StripReport, exc: Exception) -> Iterator[bytes]:
    report.removed, report.removed_bytes = {}, 0
    report.intact_from, report.problem = 0, f"not cleaned: {type(exc).__name__}: {exc}"[:200]
    return iter([data])


def _pieces(data: bytes) -> Iterator[bytes]:
    return (data[i : i + _PIECE] for i in range(0, len(data), _PIECE))


def _clean_zip(source: Source, report: StripReport) -> Iterator[bytes]:
    data = b"".join(source())
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if "[Content_Types].xml" not in archive.namelist():
                return iter([data])  # a zip, but not a document we know: copied as is
            report.format = "ooxml"
            cleaned = _rewrite(archive, report)
    except (_NotCleaned, zipfile.BadZipFile, etree.XMLSyntaxError, OSError, EOFError) as exc:
        return _as_sent(data, report, exc)
    del data
    return _pieces(cleaned)


# --- PDF -----------------------------------------------------------------------------------------


def _clean_pdf(source: Source, report: StripReport) -> Iterator[bytes]:
    data = b"".join(source())
    report.format = "pdf"
    try:
        # No recovery: a damaged file that qpdf would have to reconstruct is stored as sent.
        with pikepdf.open(io.BytesIO(data), attempt_recovery=False) as pdf:
            if pdf.is_encrypted:
                raise _NotCleaned("encrypted")
            _strip_pdf(pdf, report)
            out = io.BytesIO()
            # Only reachable objects are written, so earlier revisions (incremental saves, with
            # the old author in them) go too; the file ID is derived from content, not the clock.
            # Streams are copied as they are, never decoded: a compressed stream that would expand
            # to gigabytes (a "PDF bomb") costs no more than its stored size.
            pdf.save(
                out,
                preserve_pdfa=False,
                fix_metadata_version=False,
                deterministic_id=True,
                stream_decode_level=pikepdf.StreamDecodeLevel.none,
                compress_streams=False,
            )
    except (_NotCleaned, pikepdf.PdfError, pikepdf.PasswordError, ValueError) as exc:
        return _as_sent(data, report, exc)
    del data
    return _pieces(out.getvalue())


def _strip_pdf(pdf: pikepdf.Pdf, report: StripReport) -> None:
    if "/Info" in pdf.trailer:
        del pdf.trailer["/Info"]
        _count(report, "document info")
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            continue
        for key in _PDF_DROP:
            if key in obj:
                del obj[key]
                _count(report, key[1:])
    for page in pdf.pages:
        for annotation in page.obj.get("/Annots", pikepdf.Array()):
            if not isinstance(annotation, pikepdf.Dictionary):
                continue
            if annotation.get("/Subtype") == "/Widget":
                continue  # a form field: its /T is the field's name, not a person's
            for key in ("/T", "/M"):  # a comment's author and its time
                if key in annotation:
                    del annotation[key]
                    _count(report, "annotation authors")


def _rewrite(archive: zipfile.ZipFile, report: StripReport) -> bytes:
    infos = archive.infolist()
    if sum(info.file_size for info in infos) > _MAX_EXPANDED:
        raise _NotCleaned("the archive expands beyond the limit")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in infos:
            fresh = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME)
            fresh.compress_type = info.compress_type
            fresh.external_attr = info.external_attr
            if info.is_dir():
                target.writestr(fresh, b"")
            elif info.filename.endswith((".xml", ".rels")) and _is_part_we_clean(info.filename):
                target.writestr(fresh, _clean_part(archive, info, report))
            elif _is_image(archive, info):
                target.writestr(fresh, _clean_image(archive, info, report))
            else:
                _copy_member(archive, info, target, fresh)
    return out.getvalue()


def _is_part_we_clean(name: str) -> bool:
    return name.startswith(("docProps/", "word/", "xl/", "ppt/")) and name.endswith(".xml")


def _is_image(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    if info.file_size > _MAX_PART:
        return False
    with archive.open(info) as member:
        head = member.read(12)
    return head.startswith((b"\xff\xd8\xff", b"\x89PNG")) or head[8:12] == b"WEBP"


def _clean_image(archive: zipfile.ZipFile, info: zipfile.ZipInfo, report: StripReport) -> bytes:
    data = archive.read(info)
    inner = StripReport()
    cleaned = b"".join(strip_metadata(lambda: [data], inner))
    if inner.stripped:
        _count(report, "embedded image metadata")
    return cleaned


def _copy_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: zipfile.ZipFile, fresh: zipfile.ZipInfo
) -> None:
    with archive.open(info) as member, target.open(fresh, "w", force_zip64=True) as copy:
        while piece := member.read(_PIECE):
            copy.write(piece)


def _clean_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, report: StripReport) -> bytes:
    if info.file_size > _MAX_PART:
        raise _NotCleaned(f"{info.filename} is too large to clean")
    tree = etree.parse(io.BytesIO(archive.read(info)), _PARSER)
    root = tree.getroot()
    if info.filename in (_CORE, _CUSTOM):
        _drop_children(root, report, "core properties" if info.filename == _CORE else "custom")
    elif info.filename == _APP:
        for child in list(root):
            if etree.QName(child).localname in _APP_DROP:
                root.remove(child)
                _count(report, "app properties")
    else:
        _clean_elements(root, report)
    cleaned: bytes = etree.tostring(
        tree, xml_declaration=True, encoding="UTF-8", standalone=tree.docinfo.standalone
    )
    return cleaned


def _drop_children(root: etree._Element, report: StripReport, kind: str) -> None:
    for child in list(root):
        root.remove(child)
        _count(report, kind)


def _clean_elements(root: etree._Element, report: StripReport) -> None:
    doomed = []
    for element in root.iter(etree.Element):
        name = etree.QName(element)
        if name.namespace == _W and name.localname == "rsids":
            doomed.append(element)
            continue
        if name.namespace == _W15 and name.localname == "presenceInfo":
            doomed.append(element)
            continue
        if name.localname == "author" and element.text and not len(element):
            element.text = ""  # a spreadsheet's list of comment authors: keep the indices
            _count(report, "authors")
        _clean_attributes(element, name.localname, report)
    for element in doomed:
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)
            _count(report, "revision identifiers")


def _clean_attributes(element: etree._Element, localname: str, report: StripReport) -> None:
    for key in list(element.attrib):
        attribute = etree.QName(key)
        if attribute.namespace == _W and (
            attribute.localname.startswith("rsid") or attribute.localname == "date"
        ):
            del element.attrib[key]
            _count(report, "revision identifiers")
        elif (
            attribute.localname in _BLANK_ATTRIBUTES
            or (localname, attribute.localname) in _BLANK_ON
        ) and element.attrib[key]:
            element.attrib[key] = ""
            _count(report, "authors")


def _count(report: StripReport, kind: str) -> None:
    report.removed[kind] = report.removed.get(kind, 0) + 1
    report.removed_bytes += 1  # marks the report as stripped; sizes are not tracked per item
