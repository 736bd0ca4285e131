"""The handlers' side: login, the body's case list, reading a case, replying."""

from __future__ import annotations

import logging
import unicodedata
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

import crypto

from ..accounts import log_in, log_out
from ..audit import Actor
from ..casework import (
    count_cases_for_handler,
    handler_case_view,
    list_cases_for_handler,
    open_attachment_for_handler,
    reply_to_reporter,
)
from ..clock import local_today
from ..db import get_database, get_db
from ..errors import LoginFailed
from ..models import Role
from ..sessions import ENROL, FULL, STAFF_COOKIE
from .access import StaffUser, home_url, public, staff_required, staff_session_policy
from .common import current_organisation, report_response, safe_next, set_session_cookie
from .forms import LoginForm, ReplyForm

bp = Blueprint("board", __name__, url_prefix="/board")

HANDLERS = (Role.HANDLER, Role.CHAIR)


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def render_login(form: LoginForm, status: int, error: str | None = None):
    return render_template("board/login.html", form=form, error=error), status


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    form = LoginForm()
    if request.method == "GET" or not form.validate():
        return render_login(form, 200 if request.method == "GET" else 400)
    db = get_db()
    try:
        result = log_in(
            db,
            current_organisation(),
            form.email.data,
            form.password.data,
            form.code.data,
            profile=current_app.extensions["homthu.kdf"],
            policy=staff_session_policy(),
        )
    except LoginFailed as failed:
        return render_login(form, 401, failed.message)
    user = StaffUser(result.account, b"", result.stage)
    target = home_url(user)
    if result.stage == FULL:
        target = safe_next(request.args.get("next"), target)
    if result.recovery_codes_left is not None:
        flash(
            _(
                "You logged in with a recovery code. %(count)d codes are left: set up your "
                "authenticator app again if you lost it.",
                count=result.recovery_codes_left,
            )
        )
    response = redirect(target)
    set_session_cookie(response, STAFF_COOKIE, result.cookie)
    return response


@bp.post("/logout")
@staff_required(stages=(FULL, ENROL))
def logout(user: StaffUser):
    log_out(get_db(), user.account, request.cookies.get(STAFF_COOKIE))
    response = redirect(url_for("board.login"))
    response.delete_cookie(STAFF_COOKIE)
    flash(_("You have logged out."))
    return response


@bp.get("/")
@staff_required(*HANDLERS)
def cases(user: StaffUser):
    db = get_db()
    return render_template(
        "board/cases.html",
        cases=list_cases_for_handler(db, user.account),
        total=count_cases_for_handler(db, user.account),
    )


@bp.get("/cases/<case_id>")
@staff_required(*HANDLERS)
def case(user: StaffUser, case_id: str):
    view = handler_case_view(get_db(), user.account, user.private_key, case_id)
    return render_template("board/case.html", view=view, reply_form=ReplyForm())


@bp.post("/cases/<case_id>/reply")
@staff_required(*HANDLERS)
def reply(user: StaffUser, case_id: str):
    form = ReplyForm()
    db = get_db()
    if not form.validate():
        view = handler_case_view(db, user.account, user.private_key, case_id)
        return render_template("board/case.html", view=view, reply_form=form), 400
    reply_to_reporter(db, user.account, user.private_key, case_id, form.text.data)
    flash(_("Your reply was sent. The reporter sees it when they next follow up."))
    return redirect(url_for("board.case", case_id=case_id))


@bp.get("/cases/<case_id>/files/<attachment_id>")
@staff_required(*HANDLERS)
def attachment(user: StaffUser, case_id: str, attachment_id: str):
    info, chunks = open_attachment_for_handler(
        get_db(),
        get_database().read_sessionmaker,
        user.account,
        user.private_key,
        case_id,
        attachment_id,
    )
    response = Response(_guarded(chunks), mimetype="application/octet-stream")
    # Always a download, never rendered in the page: an uploaded HTML file must not run here.
    response.headers.set("Content-Disposition", "attachment", **download_name(info.name))
    response.headers["Content-Length"] = str(info.size)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def download_name(name: str) -> dict[str, str]:
    """Content-Disposition parameters for any file name (RFC 6266), as send_file writes them.

    HTTP headers are Latin-1: a Vietnamese name goes in `filename*` as UTF-8, with an ASCII
    fallback for old clients.
    """
    try:
        name.encode("ascii")
    except UnicodeEncodeError:
        fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        quoted = quote(name, safe="!#$&+-.^_`|~")
        return {"filename": fallback or "file", "filename*": f"UTF-8''{quoted}"}
    return {"filename": name}


def _guarded(chunks):
    """Stop the download (the connection breaks) if a chunk fails to authenticate."""
    try:
        yield from chunks
    except crypto.CryptoError:
        logging.getLogger("homthu.files").error("an attachment failed authentication")


# --- reports (chairs) ------------------------------------------------------------------------


@bp.get("/reports")
@staff_required(Role.CHAIR)
def reports(user: StaffUser):
    from ..reports import FORMATS, recent_periods

    return render_template(
        "board/reports.html", periods=recent_periods(local_today()), formats=FORMATS
    )


@bp.get("/reports/<period>.<fmt>")
@staff_required(Role.CHAIR)
def report_download(user: StaffUser, period: str, fmt: str):
    """The chair's body's report of a period, as DOCX or CSV (audited)."""
    from ..reports import export_report

    report = export_report(
        get_db(),
        current_organisation(),
        period,
        fmt,
        actor=Actor.staff(user.account),
        body_id=user.account.body_id,
    )
    return report_response(report)
