"""The application, failing where a test asks it to: for tests of gunicorn's own error log.

A request to a path that ends in FAIL raises out of the WSGI application, as the application
would if even its error page failed; gunicorn then logs the failure itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

FAIL = "/fail-here"


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO", "").endswith(FAIL):
        raise RuntimeError("the application failed")
    from wsgi import app as real_app  # on first use: the test that imports FAIL has no app

    return real_app(environ, start_response)
