"""No client address, user agent or request time of a reporter reaches any log."""

from __future__ import annotations

import http.client
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.faulty_wsgi import FAIL

ROOT = Path(__file__).resolve().parent.parent
AGENT = "LogProbeAgent/4.2 (secret-device)"

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"User-Agent": AGENT})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_the_development_server_logs_no_address_and_no_agent(app, world, caplog):
    caplog.set_level(logging.DEBUG)
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for path in ("/", "/report", "/follow-up", "/board/login", "/missing"):
            _get(server.server_port, path)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "127.0.0.1" not in logged and AGENT not in logged
    # Reporter pages are not logged at all; staff pages by route only.
    assert "GET /" not in logged.replace("GET /board", "")
    assert "GET /board/login 200" in logged


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve_with_gunicorn(
    app_env: dict[str, str], tmp_path: Path, application: str, visit: Callable[[int], None]
) -> str:
    """Run `application` with the shipped gunicorn.conf.py, `visit` it; return gunicorn's log."""
    port = _free_port()
    env = {**os.environ, **app_env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1"}
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", application],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    _get(port, "/")
                    break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise
                    time.sleep(0.2)
            visit(port)
        finally:
            process.terminate()
            process.wait(timeout=20)
    output = log_path.read_text()
    assert "Booting worker" in output  # we did read gunicorn's own log
    return output.replace(f"Listening at: http://127.0.0.1:{port}", "Listening")


def test_the_shipped_gunicorn_configuration_logs_no_address_and_no_agent(app_env, world, tmp_path):
    def visit(port: int) -> None:
        for path in ("/", "/report", "/follow-up", "/board/login", "/missing"):
            _get(port, path)

    output = _serve_with_gunicorn(app_env, tmp_path, "wsgi:app", visit)
    assert "127.0.0.1:" not in output
    assert AGENT not in output
    assert "GET /report" not in output and "GET /follow-up" not in output


def _send_raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        return connection.recv(65536)


def test_gunicorns_error_log_has_no_time_and_no_reporter_path_or_address(app_env, world, tmp_path):
    """An application that raises, and requests gunicorn cannot parse: gunicorn logs them
    itself. For a reporter's path, one line with the exception's class; for a staff path,
    the path and the traceback; never the client's address; no line with a time of its own."""

    def visit(port: int) -> None:
        assert _get(port, f"/report/secret-draft{FAIL}") == 500
        assert _get(port, f"/board/cases/abc{FAIL}") == 500
        _send_raw(port, b"GET /report/secret-line HTTP/1.1 extra\r\nHost: x\r\n\r\n")
        _send_raw(port, b"GET /follow-up/secret-version HTTP/9.9\r\nHost: x\r\n\r\n")

    output = _serve_with_gunicorn(app_env, tmp_path, "tests.faulty_wsgi:app", visit)
    assert "Error handling request: RuntimeError" in output  # the reporter's: class only
    assert f"Error handling request GET /board/cases/abc{FAIL}" in output  # the staff page's
    assert output.count("Traceback") == 1 and "the application failed" in output
    assert output.count("Invalid request: ") == 2
    for trace in ("secret-draft", "secret-line", "secret-version", "ip=", "127.0.0.1:", AGENT):
        assert trace not in output
    assert not re.search(r"\d{1,2}:\d{2}", output), "a line carries a time"
