"""Logging that never records who a client is.

No IP address, user agent or request time of a reporter reaches a log: Werkzeug's development
request log (which starts with the client address) is suppressed, and the application writes its
own access line only for staff areas, without addresses. Log lines carry no timestamp of their
own; a deployment's journal adds one, which is why reporter requests are not logged at all.

A request that fails is logged by `log_fault`: for the staff areas, with its route and the full
traceback; for a reporter's request, with the exception's class alone — no path, no traceback
(whose frames and messages could name what was sent), the journal's time the only time. Flask's
own "Exception on <path>" line goes through it too (`Application.log_exception`). Gunicorn's
error log follows the same rule (service/platform/gunicorn_log.py).
"""

from __future__ import annotations

import errno
import logging
import re
import sys
from types import TracebackType

from flask import Flask, Response, request

STAFF_PREFIXES = ("/board", "/admin")
_ADDRESS_PREFIX = re.compile(r"^\S+ - - \[[^\]]*\] ")


class WerkzeugAddressFilter(logging.Filter):
    """Drop Werkzeug's per-request lines; strip the address and time from anything else."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if not _ADDRESS_PREFIX.match(message):
            return True
        if message.rstrip().endswith('"%s" %s %s'):
            return False  # the request log line: address, time, request, status
        record.msg = _ADDRESS_PREFIX.sub("", message)
        return True


def configure_logging(app: Flask) -> None:
    level = getattr(logging, app.config["LOG_LEVEL"], logging.INFO)
    logger = logging.getLogger("homthu")
    logger.setLevel(level)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    werkzeug_logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, WerkzeugAddressFilter) for f in werkzeug_logger.filters):
        werkzeug_logger.addFilter(WerkzeugAddressFilter())
    app.logger.handlers.clear()
    app.logger.parent = logger  # Flask's own errors go through the same handler
    app.after_request(_log_staff_request)


def _log_staff_request(response: Response) -> Response:
    if request.path.startswith(STAFF_PREFIXES):
        logging.getLogger("homthu.access").info(
            "%s %s %s", request.method, request.url_rule or "-", response.status_code
        )
    return response


ExcInfo = tuple[type, BaseException, TracebackType] | tuple[None, None, None]


def is_staff_path(path: str) -> bool:
    return path.startswith(STAFF_PREFIXES)


def fault_name(error: BaseException) -> str:
    """The exception's class, and for an OSError its errno's name (ENOSPC: the disk is full)."""
    name = type(error).__name__
    code = error.errno if isinstance(error, OSError) else None
    if code is not None and code in errno.errorcode:
        return f"{name} ({errno.errorcode[code]})"
    return name


def log_fault(error: BaseException) -> None:
    """A request failed: the staff route with its traceback, or a reporter's with its class."""
    logger = logging.getLogger("homthu.faults")
    if is_staff_path(request.path):
        route = request.url_rule.rule if request.url_rule else "-"
        logger.error(
            "unhandled %s in %s %s", fault_name(error), request.method, route, exc_info=error
        )
    else:
        logger.error("unhandled %s", fault_name(error))


class Application(Flask):
    """Flask, whose log of an exception that reached no handler (a failed commit in an
    after_request hook) names no reporter's path: Flask's own says "Exception on <path>"."""

    def log_exception(self, exc_info: ExcInfo) -> None:
        if exc_info[1] is not None:
            log_fault(exc_info[1])
