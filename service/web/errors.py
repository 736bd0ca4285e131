"""Every failure becomes a page in the user's language with a 4xx (or, for bugs, a plain 500).

Error pages never echo what was sent: no receipt, no form field, no path parameter. Each handler
first rolls back and drops the request's session (service/platform/unit_of_work.py): nothing of
a failed request is kept, and the page renders from plain values only — no ORM object a rollback
expired, no staff session loaded for the page — so a lost database cannot fail it a second time.

Faults that are not bugs get a 503 that says what to do: a lost database (a connection cut, the
server restarting, a locked or full SQLite file) says that nothing was saved and to go back in
the browser, which keeps what was typed; a full temporary disk while an upload is spooled says
the same about the files. That is a 503, not a 413: the files are within the limits the form
states, and the fault is the server's and passes; a 413 would tell a reporter to shrink files
that are not too large. Both send Retry-After. What is logged of a fault: see
service/platform/logs.py (`log_fault`).
"""

from __future__ import annotations

import errno
import math

from flask import Flask, Response, g, render_template, request
from flask_babel import get_locale, ngettext
from flask_babel import lazy_gettext as _l
from flask_limiter import RateLimitExceeded
from flask_login import AnonymousUserMixin
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from service.people.sessions import DEACTIVATED, PASSWORD_CHANGED, PASSWORD_RESET
from service.platform.db import database_unreachable
from service.platform.errors import DomainError
from service.platform.logs import log_fault
from service.platform.unit_of_work import roll_back_request
from service.web.access import ReporterSessionEnded
from service.web.forms import LoginForm, ReceiptForm
from service.web.limits import retry_after_seconds

MESSAGES = {
    400: (_l("Something in the request was not right."), _l("Go back and try again.")),
    401: (_l("Please log in."), None),
    403: (_l("You do not have access to this page."), None),
    404: (
        _l("There is nothing here."),
        _l("The address may be mistyped, or what it pointed to is not yours to see."),
    ),
    405: (_l("This address does not accept that kind of request."), None),
    413: (
        _l("The file is too large."),
        _l("Each file can be at most %(mb)d MB. Go back, choose smaller files and send again."),
    ),
    429: (_l("Too many attempts. Wait a little and try again."), None),
    500: (
        _l("Something went wrong on our side."),
        _l("Nothing you sent has been lost that was already confirmed. Please try again later."),
    ),
    503: (
        _l("The suggestion box is not open yet."),
        _l("The administrator has not finished setting it up."),
    ),
}


# A fault that passes: nothing was saved, and the browser's Back button keeps what was typed
# (a link back would load an empty form, so the page offers none).
UNSAVED = _l(
    "Nothing was saved. Go back in your browser to keep what you wrote, "
    "and try again in a few minutes."
)
OUTAGES = {
    "database": _l("The suggestion box is unavailable for a moment."),
    "disk": _l("The server has no room for your files right now."),
}
RETRY_AFTER_SECONDS = 120


def render_error(
    status: int, message: str | None = None, hint: str | None = None, *, back_link: bool = True
):
    default_message, default_hint = MESSAGES.get(status, MESSAGES[400])
    from flask import current_app

    mb = current_app.config["MAX_ATTACHMENT_BYTES"] // (1024 * 1024)
    hint_text = hint if hint is not None else (default_hint % {"mb": mb} if default_hint else None)
    page = render_template(
        "errors/error.html",
        status=status,
        message=message or default_message,
        hint=hint_text,
        back_url=request.referrer if back_link and _same_site(request.referrer) else None,
    )
    return page, status


def _same_site(url: str | None) -> bool:
    return url is not None and url.startswith(request.host_url)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        discard_request_state()
        return render_error(error.status_code, str(error.message))

    @app.errorhandler(CSRFError)
    def _csrf(_error: CSRFError):
        discard_request_state()
        return render_error(
            400,
            str(_l("This form has expired or was sent without its security token.")),
            str(_l("Go back, reload the page and send the form again.")),
        )

    @app.errorhandler(ReporterSessionEnded)
    def _reporter_session(_error: ReporterSessionEnded):
        discard_request_state()
        form = ReceiptForm(formdata=None)
        page = render_template(
            "public/follow_up.html",
            form=form,
            error=_l(
                "Your follow-up session has ended. Enter your receipt code again to continue."
            ),
        )
        return page, 401

    @app.errorhandler(RateLimitExceeded)
    def _too_many(_error: RateLimitExceeded):
        discard_request_state()
        return too_many_requests_page(retry_after_seconds())

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        discard_request_state()
        original = getattr(error, "original_exception", None)
        if original is not None:  # an error no handler took, e.g. a failed commit: logged
            return fault_page(original)  # already (logs.Application.log_exception)
        return render_error(error.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        discard_request_state()  # e.g. a failed commit: the page must not render with that session
        log_fault(error)
        return fault_page(error)


def discard_request_state() -> None:
    """Before an error page: drop the request's session, and render without loading anything.

    Flask-Login would load the staff member for the page's context (a query) if the request has
    not loaded them yet; an error page shows nothing of them, so it is told there is nobody.
    """
    roll_back_request()
    if "_login_user" not in g:  # Flask-Login's per-request cache of current_user
        g._login_user = AnonymousUserMixin()


def fault_page(error: BaseException):
    """A 503 that says what to do for a fault that passes, a plain 500 for a bug — and if even
    that page fails, a last page that needs no template."""
    try:
        if database_unreachable(error):
            return _outage_page("database")
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return _outage_page("disk")
        return render_error(500)
    except Exception as again:  # whatever failed, the user still gets a page of ours
        log_fault(again)
        return _last_resort_page()


def _outage_page(kind: str) -> Response:
    page, status = render_error(503, str(OUTAGES[kind]), str(UNSAVED), back_link=False)
    return Response(page, status, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def too_many_requests_page(seconds: int) -> Response:
    """A 429 that says when to try again, in whole minutes (and Retry-After in seconds).

    It names no limit and no address: a shared office address reads as "from here"."""
    minutes = math.ceil(seconds / 60)
    hint = ngettext(
        "Please try again in %(num)d minute.", "Please try again in %(num)d minutes.", minutes
    )
    page, status = render_error(
        429, str(_l("Too many requests from here in a short time.")), hint, back_link=False
    )
    return Response(page, status, headers={"Retry-After": str(seconds)})


def _last_resort_page() -> Response:
    message, hint = (str(text) for text in MESSAGES[500])
    page = (
        f'<!doctype html><html lang="{escape(str(get_locale()))}"><meta charset="utf-8">'
        f"<title>{escape(message)}</title>"
        f"<h1>{escape(message)}</h1><p>{escape(hint)}</p></html>"
    )
    return Response(page, 500, mimetype="text/html")


ENDED_MESSAGES = {
    PASSWORD_CHANGED: _l("Your password was changed. Log in with the new password."),
    PASSWORD_RESET: _l("Your password was reset. Use the link the administrator sent you by mail."),
}


def staff_unauthorized():
    """Flask-Login's unauthorized handler: the login form itself, with a 401 — or, for an
    account that was deactivated, a 403 page that says so."""
    ended = g.get("staff_session_ended", False)
    if ended == DEACTIVATED:
        return render_error(
            403,
            str(_l("This account has been deactivated.")),
            str(_l("Ask the administrator if you think this is a mistake.")),
        )
    message = ENDED_MESSAGES.get(ended) or (
        _l("Your session has ended. Please log in again.") if ended else _l("Please log in.")
    )
    form = LoginForm(formdata=None)
    page = render_template(
        "board/login.html", form=form, error=str(message), next_url=request.full_path
    )
    return page, 401
