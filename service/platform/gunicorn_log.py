"""Gunicorn's error log, without a reporter's time, path or address (gunicorn.conf.py).

Gunicorn's own logger stamps every line with the time, names the path of a request whose
application raised ("Error handling request GET /report/write") with its traceback, and the
address of a client whose request it could not parse ("Invalid request from ip=..."). Here:

- no line carries a time of its own (the journal adds one; see service/platform/logs.py);
- a failed request is logged with its path and traceback only for the staff areas; a reporter's
  request gives one line with the exception's class;
- an unparsable request is logged without the client's address or what it sent;
- there is no access log at all, whatever the command line says.
"""

from __future__ import annotations

import sys
from typing import Any

from gunicorn.glogging import Logger

from service.platform.logs import fault_name, is_staff_path

FAILED_REQUEST = "Error handling request"
INVALID_REQUEST = "Invalid request from ip="


class PrivateLogger(Logger):
    error_fmt = r"[%(process)d] [%(levelname)s] %(message)s"
    datefmt = ""

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        if str(msg).startswith(FAILED_REQUEST) and not _names_staff_path(args):
            error = sys.exc_info()[1]
            name = fault_name(error) if error is not None else "an unknown error"
            self.error_log.error("%s: %s", FAILED_REQUEST, name)
            return
        super().exception(msg, *args, **kwargs)

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        text = str(msg)
        if text.startswith(INVALID_REQUEST):
            # "Invalid request from ip=<address>: <what was wrong> '<what was sent>'"
            reason = text.partition(": ")[2].partition("'")[0].strip(" :")
            self.error_log.warning("Invalid request: %s", reason or "unparsable")
            return
        super().warning(msg, *args, **kwargs)

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """No access log: its every line is an address, a user agent, a path and a time."""


def _names_staff_path(args: tuple[Any, ...]) -> bool:
    """Gunicorn passes the method and the URI (or the URI alone) as the message's arguments."""
    return any(isinstance(arg, str) and is_staff_path(arg) for arg in args)
