"""The reporter's side: landing page, filing a report, following it up.

Nothing here uses JavaScript or loads anything from another host, and every response is marked
no-store. Nothing here logs: a log line would be the time of a reporter's action.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms.fields.choices import SelectChoice

from service.cases.casework import add_reporter_message, open_case_with_receipt, reporter_case_view
from service.cases.intake import (
    Identity,
    PendingReceipt,
    Submission,
    active_bodies,
    handlers_of,
    spend_form_token,
    submit_case,
    warn_of_unusual_volume,
)
from service.cases.publication import published_results
from service.cases.voice import ask_to_reopen, flag_retaliation, rate_outcome, voice_for
from service.models import BodyKind, CaseKind
from service.people.sessions import (
    REPORTER_COOKIE,
    ReporterAccess,
    create_reporter_session,
    end_reporter_session,
)
from service.platform.clock import local_today
from service.platform.db import get_db
from service.platform.errors import ReceiptRejected
from service.platform.settings import get_settings
from service.rules.policy import active_categories
from service.sealing.receipts import format_receipt
from service.web.access import public, reporter_idle, reporter_required
from service.web.common import (
    LANG_COOKIE,
    LOCALES,
    current_organisation,
    safe_next,
    set_session_cookie,
)
from service.web.forms import (
    AUTO_BODY,
    IDENTITY_CHOICES,
    KIND_HINTS,
    KIND_LABELS,
    ChooseReportForm,
    MessageForm,
    PostOnlyForm,
    RatingForm,
    ReceiptForm,
    ReopenForm,
    ReportForm,
    RetaliationForm,
    choice_label,
    chosen_files,
)
from service.web.limits import unusual_filing_volume
from service.web.once import issue_form_token, read_form_token
from service.web.uploads import SpooledUpload

bp = Blueprint("public", __name__)


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
@public
def landing():
    return render_template("public/landing.html", organisation=current_organisation())


@bp.get("/lang/<code>")
@public
def set_language(code: str):
    response = redirect(safe_next(request.args.get("next"), url_for("public.landing")))
    if code in LOCALES:
        response.set_cookie(
            LANG_COOKIE,
            code,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            httponly=True,
            secure=current_app.config["SESSION_COOKIE_SECURE"],  # HTTPS only in production
        )
    return response


def _offer_choices(form) -> None:
    """The recipients and subjects a step of the report form offers (both steps, alike)."""
    locale = str(get_locale())
    db, organisation = get_db(), current_organisation()
    bodies = active_bodies(db, organisation)
    form.body.choices = [SelectChoice(AUTO_BODY, _("Let the system choose"))] + [
        SelectChoice(str(body.id), body.name(locale)) for body in bodies
    ]
    form.head_of_unit_bodies = frozenset(
        str(body.id) for body in bodies if body.kind == BodyKind.HEAD_OF_UNIT
    )
    form.category.choices = [SelectChoice("", _("Not sure, or none of these"))] + [
        SelectChoice(str(category.id), category.name(locale))
        for category in active_categories(db, organisation)
    ]


@bp.get("/report")
@public
def choose():
    form = ChooseReportForm(request.args or None)
    _offer_choices(form)
    if form.body.data is None:
        form.body.data = AUTO_BODY
    status = 400 if request.args and not form.validate() else 200
    return render_template("public/choose.html", form=form, kind_hints=KIND_HINTS), status


def _report_form() -> ReportForm | None:
    form = ReportForm()
    _offer_choices(form)
    handlers = handlers_of(get_db(), current_organisation())
    form.exclude.choices = [SelectChoice(account.id, account.display_name) for account in handlers]
    if request.method == "GET":
        step1 = ChooseReportForm(request.args)
        _offer_choices(step1)
        if not step1.validate():
            return None
        for name in ("kind", "identity", "body", "category", "concerns_head"):
            getattr(form, name).data = getattr(step1, name).data
    return form


def _upload_limits() -> dict[str, int]:
    return {
        "max_mb": current_app.config["MAX_ATTACHMENT_BYTES"] // (1024 * 1024),
        "max_files": current_app.config["MAX_ATTACHMENTS"],
    }


def _render_report_form(form: ReportForm, status: int = 200):
    page = render_template(
        "public/report.html",
        form=form,
        kind_label=KIND_LABELS.get(form.kind.data, ""),
        identity_label=choice_label(IDENTITY_CHOICES, form.identity.data),
        body_label=choice_label(form.body.choices, form.body.data),
        category_label=choice_label(form.category.choices, form.category.data),
        **_upload_limits(),
    )
    return page, status


def start_filing_receipt() -> None:
    """before_request, after the CSRF check: a filing's receipt starts deriving at once.

    The derivation is the whole cost of a filing; started here it overlaps the form's
    validation, the routing and the writes. It starts only once CSRFProtect has passed the
    request (`g.csrf_valid`): a forged or cookieless POST costs no more than any other refused
    one. Checking the token means parsing the multipart body first — the derivation cannot
    overlap the upload's arrival — but that parse happens anyway, and with attachments the
    sealing and storing that follow take far longer than one derivation. A filing refused later
    (an invalid form) lets its derivation finish unused; the application's executor bounds how
    many run at once.
    A form sent a second time (service/web/once.py) is refused only in the view, so it too
    costs one derivation: checking its token here would ask the database before every
    filing's derivation could start.
    """
    if request.endpoint == "public.write" and request.method == "POST" and g.get("csrf_valid"):
        g.pending_receipt = PendingReceipt(
            current_organisation(), current_app.extensions["homthu.receipts"]
        )


@bp.route("/report/write", methods=["GET", "POST"])
@public
def write():
    form = _report_form()
    if form is None:  # step 1 was skipped or tampered with: start it again
        args: dict[str, Any] = request.args.to_dict()  # the first value of each, as ** gave
        return redirect(url_for("public.choose", **args))
    if request.method == "GET":
        form.form_token.data = issue_form_token()
        return _render_report_form(form)
    once = read_form_token(form.form_token.data)
    if once is None:
        return _offer_again(form)
    if not form.validate():
        return _render_report_form(form, 400)
    # Spent in the filing's transaction: committed with the case, or not at all.
    if not spend_form_token(get_db(), once.digest, once.purge_after):
        return render_template("public/already_sent.html"), 409  # never the receipt again
    return _file(form)


def _offer_again(form: ReportForm):
    """No token, a forged one, or a form shown days ago: the form back, as written, to send anew."""
    form.validate()  # its other mistakes are marked too
    form.form_token.data = issue_form_token()
    form.form_errors.append(_("This form was open too long. Check it and send it again."))
    return _render_report_form(form, 400)


def _file(form: ReportForm) -> str:
    pending = g.pop("pending_receipt", None)  # started by start_filing_receipt
    filed = submit_case(get_db(), current_organisation(), _submission(form), pending=pending)
    if unusual_filing_volume():  # once a day, past FILINGS_ALERT_PER_DAY: tell, never refuse
        per_day = current_app.config["FILINGS_ALERT_PER_DAY"]
        warn_of_unusual_volume(get_db(), current_organisation(), per_day)
    return render_template(
        "public/receipt.html",
        case=filed.case,
        rerouted_from=filed.rerouted_from,
        receipt=format_receipt(filed.receipt),
        receipt_file_href=_receipt_file_href(filed.receipt, filed.case.reference),
    )


def _submission(form: ReportForm) -> Submission:
    identity = None
    if form.is_named:
        identity = Identity(
            name=form.name.data.strip(),
            department=(form.department.data or "").strip(),
            contact=form.contact.data.strip(),
        )
    return Submission(
        kind=CaseKind(form.kind.data),
        body_id=None if form.body.data == AUTO_BODY else int(form.body.data),
        category_id=int(form.category.data) if form.category.data else None,
        concerns_head_of_unit=bool(form.concerns_head.data),
        title=form.title.data.strip(),
        text=form.text.data,
        identity=identity,
        excluded_account_ids=frozenset(form.exclude.data or ()),
        attachments=[SpooledUpload(f) for f in chosen_files(form.attachments)],
        notify_email=(form.notify_email.data or "").strip() or None,
    )


def _receipt_file_href(receipt: str, reference: str) -> str:
    """A data: link, so saving the receipt as a file sends nothing back to the server."""
    text = _(
        "Hòm thư kín — receipt code\n\n%(code)s\n\nReference: %(reference)s\n"
        "Keep this code secret. It is the only way to read replies, and it cannot be recovered.\n",
        code=format_receipt(receipt),
        reference=reference,
    )
    return "data:text/plain;charset=utf-8," + quote(text)


# --- follow-up -----------------------------------------------------------------------------


@bp.route("/follow-up", methods=["GET", "POST"])
@public
def follow_up():
    form = ReceiptForm()
    if request.method == "GET" or not form.validate():
        status = 200 if request.method == "GET" else 400
        return render_template("public/follow_up.html", form=form), status
    db = get_db()
    try:
        access = open_case_with_receipt(db, current_organisation(), form.receipt.data)
    except ReceiptRejected as refused:
        form.receipt.data = ""  # never echo a receipt back
        return render_template("public/follow_up.html", form=form, error=refused.message), 403
    cookie = create_reporter_session(db, access, reporter_idle())
    response = redirect(url_for("public.case"))
    set_session_cookie(response, REPORTER_COOKIE, cookie, path="/follow-up")
    return response


VOICE_FORMS = {
    "rating_form": RatingForm,
    "reopen_form": ReopenForm,
    "retaliation_form": RetaliationForm,
}
# What the page says after a POST (a redirect carries only this word, never what was written).
DONE = {
    "sent": _l("Your message was sent."),
    "rated": _l("Thank you: your rating was recorded."),
    "reopened": _l("Your report has been reopened and will be handled again."),
    "flagged": _l("The chair has been told, and your report now has high priority."),
    "again": _l("This had already been done; nothing changed."),
}


def _render_case(access: ReporterAccess, status: int = 200, **invalid):
    view = reporter_case_view(get_db(), access)
    forms = {name: invalid.get(name) or form(formdata=None) for name, form in VOICE_FORMS.items()}
    page = render_template(
        "public/case.html",
        view=view,
        voice=voice_for(view.case, local_today(), reopen_window=get_settings().reopen_window),
        form=invalid.get("form") or MessageForm(formdata=None),
        end_form=PostOnlyForm(),
        done=DONE.get(request.args.get("done", "")),
        **forms,
        **_upload_limits(),
    )
    return page, status


@bp.get("/follow-up/case")
@reporter_required
def case(access: ReporterAccess):
    return _render_case(access)


def _voice(access: ReporterAccess, form, name: str, act, word: str):
    """Validate one of the reporter's voice forms, run its one domain function, come back."""
    if not form.validate():
        return _render_case(access, 400, **{name: form})
    outcome = act(form)
    return redirect(url_for("public.case", done=word if outcome.changed else "again"))


@bp.post("/follow-up/case/rate")
@reporter_required
def rate(access: ReporterAccess):
    def act(form):
        return rate_outcome(get_db(), access, int(form.rating.data))

    return _voice(access, RatingForm(), "rating_form", act, "rated")


@bp.post("/follow-up/case/reopen")
@reporter_required
def reopen(access: ReporterAccess):
    def act(form):
        return ask_to_reopen(
            get_db(), access, form.text.data or "", reopen_window=get_settings().reopen_window
        )

    return _voice(access, ReopenForm(), "reopen_form", act, "reopened")


@bp.post("/follow-up/case/retaliation")
@reporter_required
def retaliation(access: ReporterAccess):
    def act(form):
        return flag_retaliation(get_db(), access, form.text.data or "")

    return _voice(access, RetaliationForm(), "retaliation_form", act, "flagged")


@bp.post("/follow-up/case/message")
@reporter_required
def send_message(access: ReporterAccess):
    form = MessageForm()
    db = get_db()
    if not form.validate():
        return _render_case(access, 400, form=form)
    uploads = [SpooledUpload(f) for f in chosen_files(form.attachments)]
    add_reporter_message(db, access, form.text.data, uploads)
    return redirect(url_for("public.case", done="sent"))


# --- published results -----------------------------------------------------------------------


@bp.get("/results")
@public
def results():
    """Công khai: the approved summaries of handled cases, for every member of the unit."""
    page = request.args.get("page", "1")
    if not page.isdigit() or int(page) < 1:
        abort(400)
    items, has_next = published_results(get_db(), current_organisation().id, int(page))
    return render_template("public/results.html", items=items, page=int(page), has_next=has_next)


@bp.post("/follow-up/end")
@public
def end_follow_up():
    db = get_db()
    end_reporter_session(db, request.cookies.get(REPORTER_COOKIE))
    response = make_response(redirect(url_for("public.landing")))
    response.delete_cookie(REPORTER_COOKIE, path="/follow-up")
    return response
