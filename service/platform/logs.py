"""Logging that never records who a client is.

No IP address, user agent or request time of a reporter reaches a log: Werkzeug's development
request log (which starts with the client address) is suppressed, and the application writes its
own access line only for staff areas, without addresses. Log lines carry no timestamp of their
own; a deployment's journal adds one, which is why reporter requests are not logged at all.
"""

from __future__ import annotations

import logging
import re
import sys

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
