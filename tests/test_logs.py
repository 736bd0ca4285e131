"""No client address, user agent or request time of a reporter reaches any log."""

from __future__ import annotations

import http.client
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from werkzeug.serving import make_server

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


def test_the_shipped_gunicorn_configuration_logs_no_address_and_no_agent(app_env, world, tmp_path):
    port = _free_port()
    env = {**os.environ, **app_env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1"}
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
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
            for path in ("/", "/report", "/follow-up", "/board/login", "/missing"):
                _get(port, path)
        finally:
            process.terminate()
            process.wait(timeout=20)
    output = log_path.read_text()
    assert "Booting worker" in output  # we did read gunicorn's own log
    assert "127.0.0.1:" not in output.replace(f"Listening at: http://127.0.0.1:{port}", "")
    assert AGENT not in output
    assert "GET /report" not in output and "GET /follow-up" not in output
