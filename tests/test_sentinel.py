"""The sentinel test of DESIGN.md ("Encryption", "Anonymity").

A full scenario writes distinctive strings into every field a person fills in — a named report
(name, department, contact), its title and text, files, a reporter's follow-up with another file,
a handler's reply — through the real HTTP routes with real CSRF tokens and a distinctive
User-Agent. Afterwards none of them may be found anywhere at rest: not in the database (the raw
SQLite file with its -wal and -shm, or every PostgreSQL row dumped through SQL), not in any file
the application wrote, not in the logs, not in the outbox; and no mail mentions the case at all.

The scan is reusable: `needle_forms`, `find_leaks` and `assert_no_leaks` work on any bytes, the
`*_haystacks` helpers collect the places to look (files, database, logs, outbox, a raw mail
message as received over SMTP), and `Scenario` with `run_scenario` replays the whole story.
Import them by name (`from tests.test_sentinel import assert_no_leaks, ...`): importing only
these names does not collect this module's tests a second time.
"""

from __future__ import annotations

import datetime as dt
import email
import email.message
import email.policy
import io
import json
import logging
import re
import secrets
import sqlite3
import unicodedata
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy import DateTime, Engine, MetaData, inspect, select, text
from sqlalchemy.engine import make_url

from service.models import CaseKind
from service.platform.clock import utcnow
from service.platform.db import get_database
from service.sealing.casefiles import CHUNK_SIZE
from service.web.forms import KIND_LABELS
from tests.conftest import csrf_from, form_token_from, get_csrf, log_in

# --- the reusable scan -------------------------------------------------------------------------

Needle = str | bytes


def _ascii_fold(value: str) -> str:
    """Vietnamese without its diacritics ("Nguyễn Văn" → "Nguyen Van"), as a careless slug."""
    value = value.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", value)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def needle_forms(value: Needle) -> dict[str, bytes]:
    """Every byte form in which `value` could sit somewhere: the encodings a leak would take.

    Text: UTF-8 (NFC and NFD), UTF-16-LE and -BE, JSON `\\uXXXX` escapes, percent-encoding,
    lower and upper case, and stripped of its diacritics. Bytes are searched as they are.
    Matching is also ASCII-case-insensitive (see `find_leaks`).
    """
    if isinstance(value, bytes):
        return {"bytes": value}
    variants = {
        "": value,
        "NFC ": unicodedata.normalize("NFC", value),
        "NFD ": unicodedata.normalize("NFD", value),
        "lower ": value.lower(),
        "upper ": value.upper(),
    }
    forms: dict[str, bytes] = {}
    for label, variant in variants.items():
        forms[f"{label}UTF-8"] = variant.encode("utf-8")
        forms[f"{label}UTF-16-LE"] = variant.encode("utf-16-le")
        forms[f"{label}UTF-16-BE"] = variant.encode("utf-16-be")
    forms["JSON escapes"] = json.dumps(value, ensure_ascii=True)[1:-1].encode("ascii")
    forms["percent-encoded"] = quote(value, safe="").encode("ascii")
    forms["percent-encoded (+ for space)"] = quote(value, safe=" ").replace(" ", "+").encode()
    folded = _ascii_fold(value)
    if folded != value and len(folded) >= 8:
        forms["without diacritics"] = folded.encode("ascii", "replace")
    # One entry per distinct byte string: the first label names it.
    unique: dict[bytes, str] = {}
    for label, data in forms.items():
        unique.setdefault(data, label)
    return {label: data for data, label in unique.items()}


@dataclass(frozen=True)
class Leak:
    needle: str
    form: str
    where: str
    offset: int
    context: bytes

    def __str__(self) -> str:
        return f"{self.needle!r} ({self.form}) in {self.where} at {self.offset}: {self.context!r}"


def find_leaks(haystacks: Mapping[str, bytes], needles: Mapping[str, Needle]) -> list[Leak]:
    """Every place where a form of a needle occurs (ASCII case ignored)."""
    prepared = [
        (name, label, data.lower())
        for name, value in needles.items()
        for label, data in needle_forms(value).items()
        if data
    ]
    leaks = []
    for where, haystack in haystacks.items():
        lowered = haystack.lower()
        for name, label, data in prepared:
            offset = lowered.find(data)
            if offset >= 0:
                context = haystack[max(0, offset - 60) : offset + len(data) + 60]
                leaks.append(Leak(name, label, where, offset, context))
    return leaks


def assert_no_leaks(haystacks: Mapping[str, bytes], needles: Mapping[str, Needle]) -> None:
    assert haystacks, "nothing to scan"
    leaks = find_leaks(haystacks, needles)
    assert not leaks, "found where it must not be:\n" + "\n".join(map(str, leaks))


def _as_bytes(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8")


def file_haystacks(directory: Path) -> dict[str, bytes]:
    """Every file under `directory`, raw (a SQLite database with its -wal and -shm files)."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def database_haystacks(engine: Engine) -> dict[str, bytes]:
    """Every row of every table, one haystack per table; binary columns as their raw bytes.

    On PostgreSQL each row's text form (`t::text`) is added too, so a type this dump does not
    convert well still shows up as PostgreSQL itself prints it.
    """
    haystacks = {}
    schema = "public" if engine.dialect.name == "postgresql" else None
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names(schema=schema):
            quoted = engine.dialect.identifier_preparer.quote(table)
            parts = [
                b"\x00".join(_as_bytes(value) for value in row)
                for row in connection.execute(text(f"SELECT * FROM {quoted}"))
            ]
            if engine.dialect.name == "postgresql":
                parts += [
                    _as_bytes(row_text)
                    for row_text in connection.scalars(text(f"SELECT t::text FROM {quoted} t"))
                ]
            haystacks[f"table {table}"] = b"\n".join(parts)
    return haystacks


def log_haystacks(records: Iterable[logging.LogRecord]) -> dict[str, bytes]:
    """All captured records, formatted (with tracebacks) and with every attribute they carry."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    lines = [
        f"{formatter.format(record)}\n{vars(record)!r}".encode("utf-8", "backslashreplace")
        for record in records
    ]
    return {"logs": b"\n".join(lines)}


def outbox_haystacks(engine: Engine) -> dict[str, bytes]:
    """Every outbox row: recipient, subject, text and HTML bodies, one haystack per row."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT id, recipient, subject, text_body, html_body FROM outbox_message"
                " ORDER BY id"
            )
        )
        return {f"outbox #{row[0]}": b"\n".join(_as_bytes(v) for v in row[1:]) for row in rows}


def mail_haystacks(raw: bytes, name: str = "mail") -> dict[str, bytes]:
    """A raw RFC 5322 message as received over SMTP: as sent, and every part decoded.

    Content-Transfer-Encoding (base64, quoted-printable) and encoded-word headers would hide a
    leak from a search of the raw bytes, so decoded headers and payloads are searched too.
    """
    message = email.message_from_bytes(raw, policy=email.policy.default)
    haystacks = {f"{name} (raw)": raw}
    headers = "\n".join(f"{key}: {value}" for key, value in message.items())
    haystacks[f"{name} (headers)"] = headers.encode("utf-8")
    for index, part in enumerate(message.walk()):
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        assert isinstance(payload, bytes)  # decoded, as a part that is not multipart is
        haystacks[f"{name} (part {index}, {part.get_content_type()})"] = payload
        if part.get_content_maintype() == "text":
            decoded = part.get_content()
            haystacks[f"{name} (part {index} text)"] = decoded.encode("utf-8")
    return haystacks


# --- self-test: the scan finds what it must ---------------------------------------------------


def test_scan_finds_every_form_of_a_sentinel(tmp_path: Path) -> None:
    sentinel = "Nguyễn Văn Bí Mật 7f3a"
    planted = {
        "utf-8": f"x{sentinel}y".encode(),
        "utf-16": sentinel.encode("utf-16-le"),
        "nfd": unicodedata.normalize("NFD", sentinel).encode(),
        "json": json.dumps({"name": sentinel}).encode(),
        "upper": sentinel.upper().encode(),
        "url": ("/?q=" + quote(sentinel)).encode(),
        "slug": b"nguyen van bi mat 7f3a",
    }
    found = {leak.where for leak in find_leaks(planted, {"name": sentinel})}
    assert found == set(planted)
    assert not find_leaks({"clean": b"Nguyen Van Bi Mat 7f3b"}, {"name": sentinel})

    # Written to a SQLite database in WAL mode and not checkpointed: only the -wal has it.
    path = tmp_path / "db.sqlite3"
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("CREATE TABLE t (v TEXT)")
        connection.execute("INSERT INTO t VALUES (?)", (sentinel,))
        leaks = find_leaks(file_haystacks(tmp_path), {"name": sentinel})
        assert {leak.where for leak in leaks} == {"db.sqlite3-wal"}

    # A mail whose body is base64 and whose subject is an encoded word.
    mail = email.message.EmailMessage()
    mail["Subject"] = sentinel
    mail.set_content(sentinel, cte="base64")
    haystacks = mail_haystacks(mail.as_bytes())
    assert not find_leaks({"raw": haystacks["mail (raw)"]}, {"name": sentinel})
    assert find_leaks(haystacks, {"name": sentinel})


# --- the scenario ---------------------------------------------------------------------------------

USER_AGENT = "SentinelAgent/9.9"
FORWARDED_FOR = "127.61.7.3"  # loopback, only ever a header value: the app must not keep it
CLIENT_ADDRESS = "127.0.0.1"  # the test client's REMOTE_ADDR
RECEIPT_ON_PAGE = re.compile(r'data-testid="receipt">\s*([0-9 ]+?)\s*<')
CASE_LINK = re.compile(r'href="/board/cases/([0-9a-f]{32})"')
FILE_LINK = re.compile(r'href="(/board/cases/[0-9a-f]{32}/files/[0-9a-f]{32})">([^<]+)</a>')


@dataclass(frozen=True)
class Scenario:
    tag: str
    words: dict[str, str]  # field → what the person wrote there
    files: dict[str, tuple[str, bytes]]  # which file → (name, content)
    byte_sentinels: dict[str, bytes]

    @classmethod
    def new(cls) -> Scenario:
        tag = secrets.token_hex(6)  # random per run: nothing legitimate can contain it
        words = {
            "title": f"Tiêu đề kín: trưởng phòng ép ký khống {tag}",
            "text": f"Nội dung kín — ngày 14/3 ông Trần Đức Ẩn gọi tôi vào phòng riêng {tag}",
            "name": f"Nguyễn Văn Bí Mật {tag}",
            "department": f"Phòng Kế hoạch – Tài chính kín {tag}",
            "contact": f"bi.mat.{tag}@thu-rieng.test",
            "file name": f"biên-bản-họp-kín-{tag}.pdf",
            "follow-up": f"Bổ sung kín: tôi còn giữ tin nhắn Zalo đêm 15/3 {tag}",
            "follow-up file name": f"ảnh-chụp-tin-nhắn-{tag}.txt",
            "reply": f"Trả lời kín: Công đoàn đề nghị chị gặp trực tiếp ngày 20/3 {tag}",
        }
        marker_one = f"ATTACHMENT-ONE-SENTINEL-{tag}".encode()
        marker_two = f"ATTACHMENT-TWO-SENTINEL-{tag}".encode()
        padding = secrets.token_bytes(140_000)
        # Over two STREAM chunks, a marker straddling the first chunk boundary, another at the end.
        head = b"%PDF-1.4\n" + f"Biên bản: {words['name']}\n".encode()
        cut = CHUNK_SIZE - len(head) - len(marker_one) // 2
        one = head + padding[:cut] + marker_one + padding[cut:] + marker_one
        two = f"Tin nhắn lúc 23:14 từ số máy riêng {tag}\n".encode() + marker_two
        return cls(
            tag=tag,
            words=words,
            files={
                "first": (words["file name"], one),
                "second": (words["follow-up file name"], two),
            },
            byte_sentinels={
                "file marker one": marker_one,
                "file marker two": marker_two,
                "file content (random bytes)": padding[100_000:100_064],
            },
        )

    def needles(self) -> dict[str, Needle]:
        return {"tag": self.tag, **self.words, **self.byte_sentinels}


def _client(app: Flask) -> FlaskClient:
    client = app.test_client()
    client.environ_base.update(
        {
            "REMOTE_ADDR": CLIENT_ADDRESS,
            "HTTP_USER_AGENT": USER_AGENT,
            "HTTP_X_FORWARDED_FOR": FORWARDED_FOR,
        }
    )
    return client


def _login(app: Flask, staff) -> FlaskClient:
    return log_in(_client(app), app, staff)


def _page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def _upload(file: tuple[str, bytes], content_type: str) -> tuple[io.BytesIO, str, str]:
    name, content = file
    return io.BytesIO(content), name, content_type


def run_reporter_part(app: Flask, world, s: Scenario) -> tuple[str, str, FlaskClient]:
    """File the named report; come back with the receipt and add a message with a file.

    Returns the receipt, the case's reference and the returning reporter's client.
    """
    words = s.words
    cd = str(world.cd.id)
    choice = f"kind=misconduct&body={cd}&identity=named"

    # A named report of harassment to the Trade Union, with a file.
    reporter = _client(app)
    _page(reporter, "/")
    _page(reporter, f"/report?{choice}")
    form = _page(reporter, f"/report/write?{choice}")
    response = reporter.post(
        "/report/write",
        data={
            "csrf_token": csrf_from(form),
            "form_token": form_token_from(form),
            "kind": "misconduct",
            "body": cd,
            "identity": "named",
            "title": words["title"],
            "text": words["text"],
            "name": words["name"],
            "department": words["department"],
            "contact": words["contact"],
            "attachments": [_upload(s.files["first"], "application/pdf")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.status_code
    page = response.get_data(as_text=True)
    receipt = RECEIPT_ON_PAGE.search(page)
    assert receipt, "no receipt on the receipt page"
    reference = re.search(r"\bCD-\d{4}-\d{4}\b", page)
    assert reference, "no reference on the receipt page"

    # The reporter comes back with the receipt alone and adds a message with another file.
    returning = _client(app)
    token = get_csrf(returning, "/follow-up")
    response = returning.post("/follow-up", data={"csrf_token": token, "receipt": receipt.group(1)})
    assert response.status_code == 302, response.status_code
    page = _page(returning, "/follow-up/case")
    assert words["title"] in page and words["text"] in page
    response = returning.post(
        "/follow-up/case/message",
        data={
            "csrf_token": csrf_from(page),
            "text": words["follow-up"],
            "attachments": [_upload(s.files["second"], "text/plain")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.status_code
    return receipt.group(1), reference.group(0), returning


def run_scenario(app: Flask, world, s: Scenario) -> dict[str, str]:
    """The reporter's part, then a handler reads, downloads and replies, the chair reads the
    identity, the reporter reads the reply; returns the case's receipt, reference and id."""
    words = s.words
    receipt, reference, returning = run_reporter_part(app, world, s)

    # The handler reads everything but the identity, downloads both files and replies.
    handler = _login(app, world["cd_handler"])
    case_id = CASE_LINK.search(_page(handler, "/board/"))
    assert case_id, "the case is not in the handler's list"
    case_url = f"/board/cases/{case_id.group(1)}"
    page = _page(handler, case_url)
    for field in ("title", "text", "follow-up", "file name", "follow-up file name"):
        assert words[field] in page, field
    for field in ("name", "department", "contact"):
        assert words[field] not in page, f"a handler sees the reporter's {field}"
    links = {name: href for href, name in FILE_LINK.findall(page)}
    for name, content in s.files.values():
        download = handler.get(links[name])
        assert download.status_code == 200
        assert download.get_data() == content
        download.close()
    response = handler.post(
        f"{case_url}/reply", data={"csrf_token": csrf_from(page), "text": words["reply"]}
    )
    assert response.status_code == 302, response.status_code
    assert words["reply"] in _page(handler, case_url)
    response = handler.post("/board/logout", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302

    # The chair holds the identity in custody.
    chair = _login(app, world["cd_chair"])
    page = _page(chair, case_url)
    for field in ("name", "department", "contact"):
        assert words[field] in page, field

    # The reporter reads the reply, then ends the follow-up session.
    page = _page(returning, "/follow-up/case")
    assert words["reply"] in page
    response = returning.post("/follow-up/end", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    return {"receipt": receipt, "reference": reference, "case": case_id.group(1)}


def _kind_words(app: Flask, kind: CaseKind) -> dict[str, str]:
    words = {"kind": kind.value}
    with app.test_request_context():
        for locale in ("vi", "en"):
            with force_locale(locale):
                words[f"kind label ({locale})"] = str(KIND_LABELS[kind])
    return words


def test_no_plaintext_at_rest_in_logs_or_mail(app: Flask, world, caplog, tmp_path, backend):
    caplog.set_level(logging.DEBUG)
    for name in ("werkzeug", "homthu"):
        caplog.set_level(logging.DEBUG, logger=name)
    scenario = Scenario.new()
    handles = run_scenario(app, world, scenario)
    receipt = handles["receipt"]
    secret = {
        **scenario.needles(),
        "receipt": receipt,
        "receipt digits": receipt.replace(" ", ""),
    }
    client = {
        "user agent": USER_AGENT,
        "forwarded address": FORWARDED_FOR,
        "client address": CLIENT_ADDRESS,
    }
    engine = get_database(app).engine

    # Files first, while the pool still holds connections: SQLite's -wal is there, unmerged.
    # Everything else the app may have written (its instance folder) lies under tmp_path too.
    files = file_haystacks(tmp_path)
    if backend == "sqlite":
        database_name = make_url(app.config["DATABASE_URL"]).database
        assert database_name is not None
        database = Path(database_name)
        assert database.parent == tmp_path
        assert {database.name, f"{database.name}-wal", f"{database.name}-shm"} <= set(files)
    if files:
        assert_no_leaks(files, {**secret, **client})
    assert_no_leaks(database_haystacks(engine), {**secret, **client})

    # Notifications: only that something happened, to the body's handlers.
    outbox = outbox_haystacks(engine)
    assert len(outbox) >= 2
    with engine.connect() as connection:
        recipients = set(connection.scalars(text("SELECT recipient FROM outbox_message")))
    assert recipients == {world["cd_chair"].email, world["cd_handler"].email}
    about_the_case = {
        "reference": handles["reference"],
        "case id": handles["case"],
        **_kind_words(app, CaseKind.MISCONDUCT),
    }
    assert_no_leaks(outbox, {**secret, **client, **about_the_case})

    # Checkpointed and closed: the main file alone, as a backup would copy it.
    engine.dispose()
    if backend == "sqlite":
        files = file_haystacks(tmp_path)
        assert f"{database.name}-wal" not in files, "the last connection closed, yet no checkpoint"
        assert_no_leaks(files, {**secret, **client})

    assert caplog.records, "nothing was logged: is the capture working?"
    assert_no_leaks(log_haystacks(caplog.records), {**secret, **client})


def precise_times_between(
    engine: Engine, start: dt.datetime, end: dt.datetime
) -> list[tuple[str, str, dt.datetime]]:
    """Every date-and-time value in the database that falls between `start` and `end` (UTC)."""
    low, high = (t.astimezone(dt.UTC).replace(tzinfo=None) for t in (start, end))
    found = []
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, DateTime):
                    continue
                for value in connection.scalars(select(column).where(column.is_not(None))):
                    naive = value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
                    if low <= naive <= high:
                        found.append((table.name, column.name, value))
    return found


def test_reporter_actions_leave_no_precise_time(app: Flask, world) -> None:
    """DESIGN.md, Anonymity: no precise time of a reporter's action is stored — only the day."""
    start = utcnow()
    run_reporter_part(app, world, Scenario.new())
    end = utcnow()
    found = precise_times_between(get_database(app).engine, start, end)
    assert not found, f"times of the reporter's actions, stored: {found}"
