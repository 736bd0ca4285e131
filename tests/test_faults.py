"""A lost database or a full disk mid-request: a clear 503 in the user's language, nothing half
saved, and nothing of a reporter in any log (service/web/errors.py, service/platform/logs.py).

On PostgreSQL the request's own connection is cut mid-transaction with pg_terminate_backend,
from a separate admin connection; on SQLite the statement or the commit fails as a full or
broken disk makes it fail. Either way the database then stays away until the test ends the
outage, so the error page must render without it. Each test then sends the same request again
as its control: it succeeds, so the counts that prove "nothing saved" can move.
"""

from __future__ import annotations

import errno
import logging
import re
import sqlite3
import tempfile
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from flask import Flask, has_request_context
from flask import request as flask_request
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import DisconnectionError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from service.models import AuditEvent, Case, Message, OutboxMessage
from service.platform.db import database_unreachable, get_database
from service.web import uploads
from tests.casefactory import file_case
from tests.conftest import PG_URL, csrf_from, domain_session, log_in
from tests.flows import file_report, open_report_form

pytestmark = pytest.mark.usefixtures("world")

ADDRESS = "203.0.113.77"
AGENT = "FaultProbe/7.1 (reporter-device)"
CLIENT = {"REMOTE_ADDR": ADDRESS, "HTTP_USER_AGENT": AGENT}
TIME_OF_DAY = re.compile(r"\b\d{1,2}:\d{2}\b")
UNSAVED_VI = "Chưa có gì được lưu."
BACK_IN_BROWSER_VI = "Hãy bấm nút quay lại của trình duyệt"


class Outage:
    """Cuts the request's database connection once, at its first INSERT or at its COMMIT, and
    keeps the database away (no new connection) until `end()`."""

    def __init__(self, engine: Engine, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.engine, self.backend, self.monkeypatch = engine, backend, monkeypatch
        self.at: str | None = None
        self.request = ""
        self.down = False
        self.cuts = 0
        event.listen(engine, "after_cursor_execute", self._after_statement)
        event.listen(engine, "commit", self._at_commit)
        event.listen(engine, "do_connect", self._connect)
        event.listen(engine, "do_execute", self._execute)
        if backend == "sqlite":
            monkeypatch.setattr(engine.dialect, "do_commit", self._sqlite_commit)

    def arm(self, at: str, request: str) -> None:
        """Cut at the first INSERT ("statement") or the COMMIT of the request "METHOD /path"."""
        self.at, self.request = at, request

    def _armed(self, at: str) -> bool:
        return (
            self.at == at
            and has_request_context()
            and f"{flask_request.method} {flask_request.path}" == self.request
        )

    def end(self) -> None:
        self.at, self.down = None, False

    def remove(self) -> None:
        event.remove(self.engine, "after_cursor_execute", self._after_statement)
        event.remove(self.engine, "commit", self._at_commit)
        event.remove(self.engine, "do_connect", self._connect)
        event.remove(self.engine, "do_execute", self._execute)

    # --- the cut ---

    def _after_statement(self, conn, _cursor, statement: str, *_args: Any) -> None:
        if self._armed("statement") and statement.lstrip().upper().startswith("INSERT"):
            self._cut(conn)

    def _at_commit(self, conn) -> None:
        if self._armed("commit"):
            self._cut(conn)

    def _cut(self, conn) -> None:
        self.at, self.down = None, True
        self.cuts += 1
        if self.backend == "postgresql":
            raw = conn.connection.dbapi_connection
            pid = raw.execute("SELECT pg_backend_pid()").fetchone()[0]
            with psycopg.connect(PG_URL, autocommit=True) as admin:
                # Only that backend; the timeout waits until it is really gone.
                assert admin.execute(
                    "SELECT pg_terminate_backend(%s, 5000)", (pid,)
                ).fetchone() == (True,)

    # --- the database stays away ---

    def _failure(self) -> Exception:
        if self.backend == "postgresql":
            return psycopg.OperationalError("connection refused: the server is down")
        return sqlite3.OperationalError("disk I/O error")

    def _connect(self, *_args: Any) -> None:
        if self.down:
            raise self._failure()

    def _execute(self, *_args: Any) -> None:
        # On SQLite the connection outlives a cut: its next statement fails as a bad disk would.
        if self.down and self.backend == "sqlite":
            raise self._failure()

    def _sqlite_commit(self, dbapi_connection) -> None:
        if self.down:
            raise self._failure()
        dbapi_connection.commit()


@pytest.fixture
def outage(app: Flask, backend: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Outage]:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as in production, not raise in the test
    cut = Outage(get_database(app).engine, backend, monkeypatch)
    yield cut
    cut.remove()


def _counts(app: Flask) -> dict[str, int]:
    with domain_session(app) as db:
        return {
            model.__name__: db.scalar(select(func.count()).select_from(model)) or 0
            for model in (Case, Message, AuditEvent, OutboxMessage)
        }


def _formatted(records: list[logging.LogRecord]) -> str:
    """The records as the application's own handler writes them, tracebacks included."""
    formatter = logging.getLogger("homthu").handlers[0].formatter or logging.Formatter()
    return "\n".join(formatter.format(record) for record in records)


def _assert_unsaved_page(response, lang: str = "vi") -> str:
    html = response.get_data(as_text=True)
    assert response.status_code == 503
    assert f'<html lang="{lang}"' in html  # a whole page of ours, not gunicorn's bare one
    assert response.headers["Retry-After"].isdigit()
    assert "Traceback" not in html and "psycopg" not in html and "sqlite" not in html.lower()
    return html


def _assert_no_trace_of_the_reporter(records: list[logging.LogRecord], fault: str) -> None:
    logged = _formatted(records)
    faults = [record for record in records if record.name == "homthu.faults"]
    assert [record.getMessage() for record in faults] == [f"unhandled {fault}"]
    assert all(record.exc_info is None for record in records), "no traceback for a reporter"
    for trace in ("/report", "/follow-up", ADDRESS, AGENT, "POST"):
        assert trace not in logged
    assert not TIME_OF_DAY.search(logged)


# --- a reporter's filing -------------------------------------------------------------------


@pytest.mark.parametrize("at", ["statement", "commit"])
def test_a_filing_cut_off_from_the_database_gets_a_503_and_saves_nothing(
    app, client: FlaskClient, outage: Outage, caplog, at
):
    client.environ_base.update(CLIENT)
    before = _counts(app)
    caplog.set_level(logging.INFO)
    outage.arm(at, "POST /report/write")
    response, receipt = file_report(client, title="Mất kết nối", text="Nội dung dài")
    assert outage.cuts == 1
    html = _assert_unsaved_page(response)
    assert UNSAVED_VI in html and BACK_IN_BROWSER_VI in html
    assert "Trung tâm Hội nghị (test)" in html  # the header, from values copied before the cut
    assert "Mất kết nối" not in html and "Nội dung dài" not in html  # never echoes the report
    assert receipt is None
    records = list(caplog.records)
    outage.end()
    assert _counts(app) == before
    _assert_no_trace_of_the_reporter(records, "OperationalError")

    response, receipt = file_report(client)  # the control: the same filing, database back
    assert response.status_code == 200 and receipt
    assert _counts(app)["Case"] == before["Case"] + 1


def test_the_outage_page_follows_the_chosen_language(app, client: FlaskClient, outage: Outage):
    client.get("/lang/en")
    outage.arm("commit", "POST /report/write")
    response, _receipt = file_report(client)
    html = _assert_unsaved_page(response, lang="en")
    assert "Nothing was saved. Go back in your browser to keep what you wrote" in html


def test_a_database_down_before_the_request_gets_the_same_503(
    app, client: FlaskClient, outage: Outage, caplog
):
    """A restart or an outage that began earlier: the first query of the request fails."""
    assert client.get("/").status_code == 200  # the control
    get_database(app).engine.dispose()  # no pooled connection left to reuse
    outage.down = True
    caplog.set_level(logging.INFO)
    response = client.get("/report", environ_base=CLIENT)
    assert UNSAVED_VI in _assert_unsaved_page(response)
    _assert_no_trace_of_the_reporter(list(caplog.records), "OperationalError")


# --- a staff page --------------------------------------------------------------------------


@pytest.mark.parametrize("at", ["statement", "commit"])
def test_a_staff_page_cut_off_from_the_database_gets_a_503_and_logs_a_traceback(
    app, world, outage: Outage, caplog, at
):
    with domain_session(app) as db:
        case_id = file_case(db, world).case.id
    staff = log_in(app.test_client(), app, world["cd_handler"])
    before = _counts(app)
    caplog.set_level(logging.INFO)
    outage.arm(at, f"GET /board/cases/{case_id}")
    response = staff.get(f"/board/cases/{case_id}")  # opening a case records "case.viewed"
    assert outage.cuts == 1
    html = _assert_unsaved_page(response)
    assert UNSAVED_VI in html
    records = list(caplog.records)
    outage.end()
    assert _counts(app) == before
    faults = [record for record in records if record.name == "homthu.faults"]
    assert len(faults) == 1
    assert faults[0].getMessage() == "unhandled OperationalError in GET /board/cases/<case_id>"
    assert "Traceback" in _formatted(faults) and "OperationalError" in _formatted(faults)

    assert staff.get(f"/board/cases/{case_id}").status_code == 200  # the control
    assert _counts(app)["AuditEvent"] == before["AuditEvent"] + 1


def test_a_bug_is_still_a_plain_500_not_an_outage(app, client: FlaskClient, monkeypatch, caplog):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    from service.web import public

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(public, "published_results", broken)
    caplog.set_level(logging.INFO)
    response = client.get("/results", environ_base=CLIENT)
    assert response.status_code == 500
    assert "Retry-After" not in response.headers
    _assert_no_trace_of_the_reporter(list(caplog.records), "KeyError")


# --- a full temporary disk -----------------------------------------------------------------


_TEMPORARY_FILE = tempfile.TemporaryFile


class FullDisk:
    """A temporary file on a disk with no room left."""

    def __init__(self) -> None:
        self._file = _TEMPORARY_FILE()  # closed when Werkzeug closes the spool

    def write(self, _data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def test_a_full_disk_while_spooling_an_upload_gets_a_503_and_saves_nothing(
    app, client: FlaskClient, monkeypatch, caplog
):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client.environ_base.update(CLIENT)
    before = _counts(app)
    token = csrf_from(open_report_form(client).get_data(as_text=True))
    monkeypatch.setattr(uploads.tempfile, "TemporaryFile", FullDisk)
    caplog.set_level(logging.INFO)
    response, receipt = file_report(client, files=[("anh.jpg", b"x" * 300_000)])
    html = _assert_unsaved_page(response)
    assert "Máy chủ tạm thời không còn chỗ để nhận tệp" in html and UNSAVED_VI in html
    assert receipt is None and token
    assert _counts(app) == before
    _assert_no_trace_of_the_reporter(list(caplog.records), "OSError (ENOSPC)")

    monkeypatch.undo()  # the control: room again
    response, receipt = file_report(client, files=[("anh.jpg", b"x" * 300_000)])
    assert response.status_code == 200 and receipt


def test_when_even_the_error_page_fails_the_user_still_gets_a_page_of_ours(
    app, client: FlaskClient, monkeypatch, caplog
):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    from service.web import errors, public

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise KeyError("a bug")

    def no_template(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the template failed too")

    monkeypatch.setattr(public, "published_results", broken)
    monkeypatch.setattr(errors, "render_error", no_template)
    caplog.set_level(logging.INFO)
    response = client.get("/results", environ_base=CLIENT)
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert '<html lang="vi"' in html and "Hệ thống đã gặp sự cố." in html
    faults = [record.getMessage() for record in caplog.records if record.name == "homthu.faults"]
    assert faults == ["unhandled KeyError", "unhandled RuntimeError"]


def _caused_by(cause: BaseException) -> RuntimeError:
    try:
        try:
            raise cause
        except BaseException as error:
            raise RuntimeError("wrapped") from error
    except RuntimeError as wrapped:
        return wrapped


@pytest.mark.parametrize(
    ("error", "lost"),
    [
        (OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked")), True),
        (DisconnectionError("gone"), True),
        (PoolTimeout("QueuePool limit reached"), True),
        (psycopg.OperationalError("server closed the connection unexpectedly"), True),
        (_caused_by(psycopg.InterfaceError("the connection is closed")), True),
        (IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE")), False),
        (KeyError("a bug"), False),
        (_caused_by(ValueError("a bug")), False),
    ],
)
def test_what_counts_as_a_lost_database(error: BaseException, lost: bool):
    assert database_unreachable(error) is lost
