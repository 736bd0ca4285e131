"""Office documents lose their author, company, comment authors and revision history when stored.

The files are real: a DOCX made by python-docx (with a comment and a tracked change added), and
XLSX/PPTX packages built by hand with the parts Excel and PowerPoint use for the same metadata.
"""

from __future__ import annotations

import io
import re
import zipfile

import pikepdf
from docx import Document
from lxml import etree

import service.sealing.documents
from service.sealing.documents import clean_file
from service.sealing.metadata import StripReport
from tests.flows import file_report
from tests.test_metadata import GPS_POSITION, RICH_JPEG, BytesUpload, stored

AUTHOR = "Trần Thị Sentinel"
EDITOR = "Lê Văn Sentinel"
COMPANY = "Công ty Sentinel"
MANAGER = "Bà Sentinel Quản lý"
CUSTOM = "Mã nội bộ Sentinel"
REVIEWER = "Phạm Sentinel Duyệt"
BODY_TEXT = "Nội dung phản ánh về việc chấm công."
SENTINELS = [AUTHOR, EDITOR, COMPANY, MANAGER, CUSTOM, REVIEWER, "reviewer@example.vn", "TTS"]

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
CUSTOM_XML = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
 xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">
<property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="2" name="Code">
<vt:lpwstr>{CUSTOM}</vt:lpwstr></property></Properties>"""
PEOPLE_XML = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w15:people xmlns:w15="http://schemas.microsoft.com/office/word/2012/wordml">
<w15:person w15:author="{REVIEWER}"><w15:presenceInfo w15:providerId="AD"
 w15:userId="reviewer@example.vn"/></w15:person></w15:people>"""


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def assert_no_sentinel(data: bytes) -> None:
    parts = members(data)
    for name, content in parts.items():
        for sentinel in SENTINELS:
            assert sentinel.encode() not in content, (sentinel, name)
    assert GPS_POSITION not in data and all(GPS_POSITION not in c for c in parts.values())


def replace_members(data: bytes, changes: dict[str, bytes]) -> bytes:
    """`data` with some members replaced or added (a test's stand-in for what Word writes)."""
    parts = members(data)
    parts.update(changes)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return out.getvalue()


def rich_docx() -> bytes:
    document = Document()
    properties = document.core_properties
    properties.author, properties.last_modified_by = AUTHOR, EDITOR
    properties.title, properties.revision = f"Báo cáo của {AUTHOR}", 7
    paragraph = document.add_paragraph(BODY_TEXT)
    paragraph._p.set(f"{{{W}}}rsidR", "00AB12CD")
    document.add_comment(paragraph.runs, text="Cần xem lại", author=REVIEWER, initials="TTS")
    inserted = etree.SubElement(paragraph._p, f"{{{W}}}ins")
    inserted.set(f"{{{W}}}id", "90")
    inserted.set(f"{{{W}}}author", EDITOR)
    inserted.set(f"{{{W}}}date", "2026-03-04T21:17:00Z")
    run = etree.SubElement(inserted, f"{{{W}}}r")
    etree.SubElement(run, f"{{{W}}}t").text = " Thêm vào."
    out = io.BytesIO()
    document.save(out)
    parts = members(out.getvalue())
    settings = parts["word/settings.xml"].replace(
        b"</w:settings>", b'<w:rsids><w:rsidRoot w:val="00AB12CD"/></w:rsids></w:settings>'
    )
    app = parts["docProps/app.xml"].replace(
        b"</Properties>",
        f"<Company>{COMPANY}</Company><Manager>{MANAGER}</Manager></Properties>".encode(),
    )
    media = {"word/media/image9.jpeg": RICH_JPEG}
    return replace_members(
        out.getvalue(),
        {
            "word/settings.xml": settings,
            "docProps/app.xml": app,
            "docProps/custom.xml": CUSTOM_XML.encode(),
            "word/people.xml": PEOPLE_XML.encode(),
            **media,
        },
    )


def clean(data: bytes) -> tuple[bytes, StripReport]:
    report = StripReport()
    cleaned = b"".join(
        clean_file(lambda: [data[i : i + 1000] for i in range(0, len(data), 1000)], report)
    )
    return cleaned, report


def test_a_docx_loses_author_company_comment_authors_and_revisions_and_still_opens():
    data = rich_docx()
    assert all(any(s.encode() in c for c in members(data).values()) for s in SENTINELS)
    cleaned, report = clean(data)
    assert report.format == "ooxml" and report.problem is None and report.stripped
    assert_no_sentinel(cleaned)
    document = Document(io.BytesIO(cleaned))
    assert document.paragraphs[0].text.startswith(BODY_TEXT)
    assert document.core_properties.author == ""
    assert b"rsid" not in members(cleaned)["word/settings.xml"]
    assert b"rsidR" not in members(cleaned)["word/document.xml"]
    assert "Thêm vào.".encode() in members(cleaned)["word/document.xml"]  # the change itself stays
    assert b"2026-03-04" not in b"".join(members(cleaned).values())
    comments = [c.text for c in document.comments]
    assert comments == ["Cần xem lại"]


def test_every_member_gets_a_fixed_timestamp():
    cleaned, _report = clean(rich_docx())
    with zipfile.ZipFile(io.BytesIO(cleaned)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


CONTENT_TYPES = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/></Types>"""
CORE_XML = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties
 xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<dc:creator>{AUTHOR}</dc:creator><cp:lastModifiedBy>{EDITOR}</cp:lastModifiedBy>
<dcterms:created xsi:type="dcterms:W3CDTF">2026-03-04T21:17:00Z</dcterms:created>
</cp:coreProperties>"""
APP_XML = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">
<Application>Microsoft Excel</Application><Company>{COMPANY}</Company></Properties>"""


def package(parts: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("docProps/core.xml", CORE_XML)
        archive.writestr("docProps/app.xml", APP_XML)
        for name, content in parts.items():
            archive.writestr(name, content)
    return out.getvalue()


XLSX = {
    "xl/worksheets/sheet1.xml": """<worksheet
 xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">
<c r="A1" t="inlineStr"><is><t>Bảng chấm công</t></is></c></row></sheetData></worksheet>""",
    "xl/comments1.xml": f"""<comments
 xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><authors>
<author>{REVIEWER}</author></authors><commentList><comment ref="A1" authorId="0">
<text><t>Sai số liệu</t></text></comment></commentList></comments>""",
    "xl/persons/person.xml": f"""<personList
 xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments">
<person displayName="{EDITOR}" id="{{1}}" userId="reviewer@example.vn" providerId="AD"/>
</personList>""",
}
PPTX = {
    "ppt/slides/slide1.xml": """<p:sld
 xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"
 xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><p:cSld><p:spTree>
<p:sp><p:txBody><a:p><a:r><a:t>Họp giao ban</a:t></a:r></a:p></p:txBody></p:sp>
</p:spTree></p:cSld></p:sld>""",
    "ppt/commentAuthors.xml": f"""<p:cmAuthorLst
 xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main">
<p:cmAuthor id="1" name="{REVIEWER}" initials="TTS" lastIdx="1" clrIdx="0"/></p:cmAuthorLst>""",
}


def test_a_spreadsheet_loses_its_people_and_keeps_its_cells():
    cleaned, report = clean(package(XLSX))
    assert report.format == "ooxml" and report.problem is None
    assert_no_sentinel(cleaned)
    parts = members(cleaned)
    assert "Bảng chấm công".encode() in parts["xl/worksheets/sheet1.xml"]
    assert "Sai số liệu".encode() in parts["xl/comments1.xml"]
    assert (
        b"<author></author>" in parts["xl/comments1.xml"]
        or b"<author/>" in parts["xl/comments1.xml"]
    )  # the list keeps its length: comments refer to authors by index


def test_a_presentation_loses_its_comment_authors_and_keeps_its_slides():
    cleaned, _report = clean(package(PPTX))
    assert_no_sentinel(cleaned)
    assert "Họp giao ban".encode() in members(cleaned)["ppt/slides/slide1.xml"]


def test_a_broken_document_is_stored_as_sent_and_says_so(app, db, world):
    data = package({"word/document.xml": "<w:document>not closed"})
    cleaned, report = clean(data)
    assert cleaned == data and report.format == "ooxml" and report.problem
    content, info = stored(app, db, world, BytesUpload("hỏng.docx", data))
    assert content == data and info.cleaning == "failed"


def test_a_truncated_zip_is_stored_as_sent():
    data = rich_docx()[:-200]
    cleaned, report = clean(data)
    assert cleaned == data and report.problem


def test_a_zip_that_is_not_a_document_is_copied_and_not_called_cleaned(app, db, world):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", AUTHOR)
    content, info = stored(app, db, world, BytesUpload("ghichu.zip", out.getvalue()))
    assert content == out.getvalue() and info.cleaning == "unsupported"


def test_a_stored_docx_is_cleaned_and_recorded_as_cleaned(app, db, world):
    content, info = stored(app, db, world, BytesUpload("baocao.docx", rich_docx()))
    assert_no_sentinel(content)
    assert info.cleaning == "cleaned" and info.size == len(content)
    assert Document(io.BytesIO(content)).paragraphs[0].text.startswith(BODY_TEXT)


HEIC = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"GPS 21.0285N"


def test_the_handler_sees_which_files_were_not_cleaned(app, world, staff_client):
    broken = package({"word/document.xml": "<w:document>not closed"})
    files = [("ok.docx", rich_docx()), ("hong.docx", broken), ("anh.heic", HEIC)]
    file_report(app.test_client(), title="Tệp", text="Ba tệp", files=files)
    staff = staff_client(world["cd_handler"])
    (case_id,) = re.findall(r'href="/board/cases/([0-9a-f]{32})"', staff.get("/board/").text)
    items = re.findall(
        r"<li><a href=\"(/board/cases/[^\"]+/files/[^\"]+)\">(.*?)</li>",
        staff.get(f"/board/cases/{case_id}").text,
        re.S,
    )
    notes = {item.split("<", 1)[0]: item for _url, item in items}
    urls = {item.split("<", 1)[0]: url for url, item in items}
    assert "Không làm sạch được" in notes["hong.docx"]
    assert "Chưa xóa thông tin ẩn" in notes["anh.heic"]
    assert "thông tin ẩn" not in notes["ok.docx"]
    assert_no_sentinel(staff.get(urls["ok.docx"]).data)  # filed through the form, downloaded
    assert staff.get(urls["hong.docx"]).data == broken


def pdf_forms(text: str) -> list[bytes]:
    """The ways a PDF writes a string: UTF-8 (XMP), PDFDocEncoding, UTF-16 as bytes or in hex."""
    utf16 = text.encode("utf-16-be")
    pdfdoc = text.encode("latin-1", "replace")
    return [text.encode(), pdfdoc, utf16, utf16.hex().encode(), utf16.hex().upper().encode()]


def rich_pdf() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
        xmp["dc:creator"] = [EDITOR]
    pdf.docinfo["/Author"] = AUTHOR  # after the XMP, which would otherwise overwrite it
    pdf.docinfo["/Producer"] = COMPANY
    comment = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot,
        Subtype=pikepdf.Name.Text,
        Rect=[10, 10, 30, 30],
        T=REVIEWER,
        M="D:20260304211700Z",
        Contents="Ghi chú giữ lại",
    )
    field = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, Rect=[0, 0, 5, 5], T="ho_ten"
    )
    field = pdf.make_indirect(field)
    pdf.pages[0].obj["/Annots"] = pdf.make_indirect(
        pikepdf.Array([pdf.make_indirect(comment), field])
    )
    pdf.Root["/AcroForm"] = pikepdf.Dictionary(Fields=pikepdf.Array([field]))
    out = io.BytesIO()
    pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.disable, compress_streams=False)
    return out.getvalue()


def test_a_pdf_loses_its_document_info_xmp_and_comment_authors():
    data = rich_pdf()
    assert all(
        any(form in data for form in pdf_forms(s)) for s in [AUTHOR, EDITOR, REVIEWER, COMPANY]
    )
    cleaned, report = clean(data)
    assert report.format == "pdf" and report.problem is None and report.stripped
    for sentinel in SENTINELS:
        assert not any(form in cleaned for form in pdf_forms(sentinel)), sentinel
    assert b"20260304" not in cleaned
    with pikepdf.open(io.BytesIO(cleaned)) as pdf:
        assert "/Info" not in pdf.trailer and "/Metadata" not in pdf.Root
        comment, field = pdf.pages[0].obj["/Annots"]
        assert str(comment["/Contents"]) == "Ghi chú giữ lại" and "/T" not in comment
        assert str(field["/T"]) == "ho_ten"  # a form field keeps its name


def test_a_damaged_or_encrypted_pdf_is_stored_as_sent(app, db, world):
    damaged = rich_pdf()[:-300]
    cleaned, report = clean(damaged)
    assert cleaned == damaged and report.problem
    pdf = pikepdf.open(io.BytesIO(rich_pdf()))
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(owner="chu", user=""))
    cleaned, report = clean(out.getvalue())
    assert cleaned == out.getvalue() and report.problem
    content, info = stored(app, db, world, BytesUpload("hong.pdf", damaged))
    assert content == damaged and info.cleaning == "failed"


def test_a_stored_pdf_is_cleaned_and_recorded_as_cleaned(app, db, world):
    content, info = stored(app, db, world, BytesUpload("don.pdf", rich_pdf()))
    assert AUTHOR.encode() not in content and info.cleaning == "cleaned"


def test_a_document_too_large_to_clean_is_stored_as_sent(monkeypatch):
    monkeypatch.setattr(service.sealing.documents, "_MAX_EXPANDED", 1000)
    data = rich_docx()
    cleaned, report = clean(data)
    assert cleaned == data and "expands beyond the limit" in (report.problem or "")
