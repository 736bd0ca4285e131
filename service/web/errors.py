"""Every failure becomes a page in the user's language with a 4xx (or, for bugs, a plain 500).

Error pages never echo what was sent: no receipt, no form field, no path parameter. Each handler
first rolls back the request's session (service/platform/unit_of_work.py): nothing of a failed
request is kept, and the page never renders with a session a failed flush or commit broke.
"""

from __future__ import annotations

from flask import Flask, g, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from service.people.sessions import DEACTIVATED, PASSWORD_CHANGED, PASSWORD_RESET
from service.platform.errors import DomainError
from service.platform.unit_of_work import roll_back_request
from service.web.access import ReporterSessionEnded
from service.web.forms import LoginForm, ReceiptForm

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


def render_error(status: int, message: str | None = None, hint: str | None = None):
    default_message, default_hint = MESSAGES.get(status, MESSAGES[400])
    from flask import current_app

    mb = current_app.config["MAX_ATTACHMENT_BYTES"] // (1024 * 1024)
    hint_text = hint if hint is not None else (default_hint % {"mb": mb} if default_hint else None)
    page = render_template(
        "errors/error.html",
        status=status,
        message=message or default_message,
        hint=hint_text,
        back_url=request.referrer if _same_site(request.referrer) else None,
    )
    return page, status


def _same_site(url: str | None) -> bool:
    return url is not None and url.startswith(request.host_url)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        roll_back_request()
        return render_error(error.status_code, str(error.message))

    @app.errorhandler(CSRFError)
    def _csrf(_error: CSRFError):
        roll_back_request()
        return render_error(
            400,
            str(_l("This form has expired or was sent without its security token.")),
            str(_l("Go back, reload the page and send the form again.")),
        )

    @app.errorhandler(ReporterSessionEnded)
    def _reporter_session(_error: ReporterSessionEnded):
        roll_back_request()
        form = ReceiptForm(formdata=None)
        page = render_template(
            "public/follow_up.html",
            form=form,
            error=_l(
                "Your follow-up session has ended. Enter your receipt code again to continue."
            ),
        )
        return page, 401

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        roll_back_request()
        return render_error(error.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        roll_back_request()  # e.g. a failed commit: the page must not render with that session
        # Logged without request details: the time and path of a reporter's action stay unknown.
        app.logger.error("unhandled %s", type(error).__name__, exc_info=not _is_reporter_path())
        return render_error(500)


def _is_reporter_path() -> bool:
    return not request.path.startswith(("/board", "/admin"))


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
