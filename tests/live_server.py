"""A real HTTP server around a test app, and a Chromium to drive it (shared by browser tests).

`serve(app)` runs Werkzeug's threaded server on 127.0.0.1 at a free port in a daemon thread and
stops it on exit: `shutdown()` ends `serve_forever`, whose own `finally` closes the listening
socket and joins the request threads. A client that still holds a keep-alive connection would
keep one of those threads waiting, so close browsers *before* leaving the `serve` block; the
exit raises rather than hang if something still holds the server open.

`chromium(playwright)` launches Debian's Chromium (Playwright cannot download its own build
here) with the flags that keep it off the network; without it the test is skipped, unless
REQUIRE_BROWSER=1 (CI), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# Without the networking flags Chromium tries to reach Google's hosts, which the network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class LiveServer:
    server: BaseWSGIServer
    host: str
    port: int

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.origin + path


@contextmanager
def serve(app: Flask) -> Iterator[LiveServer]:
    server = make_server(host="127.0.0.1", port=0, app=app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="live-server",
        daemon=True,
    )
    thread.start()
    try:
        host, port = server.socket.getsockname()[:2]
        yield LiveServer(server, host, port)
    finally:
        server.shutdown()
        thread.join(STOP_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(
                "the live server did not stop: a client still holds a connection open "
                "(close the browser before leaving serve())"
            )


def browser_required() -> bool:
    return os.environ.get("REQUIRE_BROWSER") == "1"


def _unavailable(reason: str) -> None:
    if browser_required():
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@contextmanager
def chromium(**launch: Any) -> Iterator[Any]:
    """A launched Chromium (Playwright's sync API), closed on exit: skip or fail if missing."""
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as missing:  # pragma: no cover - it is in requirements-dev.txt
        _unavailable(f"Playwright is not installed: {missing}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, **launch
        )
        try:
            yield browser
        finally:
            browser.close()
