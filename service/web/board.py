"""The handlers' side: login, the body's case list, a case and everything done to it.

Every view parses its form, calls one domain function and renders or redirects. A change is a
POST with a CSRF token; doing it twice (two tabs, the back button) changes nothing and says so;
doing it from the wrong status or role gets the domain's 409 or 403 page.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms.fields.choices import SelectChoice

from service.audit.trail import Actor
from service.cases.caselist import CaseFilter, Sort, list_cases
from service.cases.casework import add_note, open_attachment_for_handler, reply_to_reporter
from service.cases.custody import grant_identity, recuse_case, transfer_case
from service.cases.handling import case_page
from service.cases.lifecycle import (
    Action,
    accept_case,
    acknowledge_case,
    assign_case,
    close_case,
    decline_case,
    extend_deadline,
    reopen_case,
    resolve_case,
)
from service.cases.publication import approve_publication, draft_publication, withdraw_publication
from service.cases.timeline import organisation_log
from service.models import CaseStatus, MessageKind, Role
from service.people.accounts import log_in, log_out
from service.people.sessions import ENROL, FULL, STAFF_COOKIE
from service.platform.clock import local_today
from service.platform.db import get_database, get_db
from service.platform.errors import LoginFailed
from service.platform.settings import get_settings
from service.sealing import SealingError
from service.web.access import (
    StaffUser,
    landing_url,
    public,
    staff_required,
    staff_session_policy,
)
from service.web.common import current_organisation, report_response, safe_next, set_session_cookie
from service.web.forms import (
    STATUS_FILTERS,
    ApproveForm,
    AssignForm,
    CaseFilterForm,
    DecisionForm,
    ExtendForm,
    GrantIdentityForm,
    LoginForm,
    NoteForm,
    PostOnlyForm,
    PublicationForm,
    QuestionForm,
    RecuseForm,
    ReplyForm,
    TransferForm,
)
from service.web.templating import ACTION_LABELS, EVENT_LABELS, KIND_LABELS, STATUS_LABELS

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
        page, status = render_login(form, 401, failed.message)
        headers = {"Retry-After": str(failed.retry_after)} if failed.retry_after else {}
        return page, status, headers
    target = landing_url(result.account.role, result.stage)
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


# --- the list --------------------------------------------------------------------------------


def filter_form() -> CaseFilterForm:
    form = CaseFilterForm(request.args)
    # Translated here once: the options are shown twice (the filter, the counts per status).
    form.status.choices = [SelectChoice("", _("All statuses"))] + [
        SelectChoice(status.value, str(STATUS_LABELS[status])) for status in STATUS_FILTERS
    ]
    form.kind.choices = [SelectChoice("", _("All kinds"))] + [
        SelectChoice(kind.value, str(label)) for kind, label in KIND_LABELS.items()
    ]
    form.sort.choices = [SelectChoice(c.value, str(c.label)) for c in form.sort.choices]
    return form


@bp.get("/")
@staff_required(*HANDLERS)
def cases(user: StaffUser):
    form = filter_form()
    status = 200 if form.validate() else 400
    filters = CaseFilter()
    if status == 200:
        filters = CaseFilter(
            status=CaseStatus(form.status.data) if form.status.data else None,
            kind=form.kind.data or None,
            overdue=form.overdue.data,
            mine=form.mine.data,
            sort=Sort(form.sort.data),
            page=form.page.data or 1,
        )
    listing = list_cases(get_db(), user.account, filters, local_today())
    return render_template("board/cases.html", listing=listing, form=form), status


# --- one case --------------------------------------------------------------------------------

CASE_FORMS = {
    "decision_form": DecisionForm,
    "reply_form": ReplyForm,
    "question_form": QuestionForm,
    "note_form": NoteForm,
    "extend_form": ExtendForm,
    "assign_form": AssignForm,
    "identity_form": GrantIdentityForm,
    "transfer_form": TransferForm,
    "publication_form": PublicationForm,
    "recuse_form": RecuseForm,
}


def render_case(user: StaffUser, case_id: str, status: int = 200, **invalid):
    """The case page; `invalid` holds a form that came back with errors (shown, status 400)."""
    page = case_page(get_db(), user.principal, case_id)
    forms = {name: invalid.get(name) or form(formdata=None) for name, form in CASE_FORMS.items()}
    forms["assign_form"].assignee.choices = [
        SelectChoice(a.id, a.display_name) for a in page.assignable
    ]
    forms["identity_form"].account.choices = [
        SelectChoice(a.id, a.display_name) for a in page.identity_candidates
    ]
    forms["transfer_form"].to_body.choices = [
        SelectChoice(b.id, b.name(str(get_locale()))) for b in page.transfer_targets
    ]
    page_html = render_template(
        "board/case.html",
        page=page,
        view=page.view,
        button_form=PostOnlyForm(),
        action_labels=ACTION_LABELS,
        **forms,
    )
    return page_html, status


@bp.get("/cases/<case_id>")
@staff_required(*HANDLERS)
def case(user: StaffUser, case_id: str):
    return render_case(user, case_id)


def done(changed: bool, message: str, case_id: str):
    """Back to the case, saying what happened (or that it had happened already)."""
    flash(message if changed else _("This had already been done; nothing changed."))
    return redirect(url_for("board.case", case_id=case_id))


SIMPLE_TRANSITIONS = {
    Action.ACKNOWLEDGE: acknowledge_case,
    Action.ACCEPT: accept_case,
    Action.CLOSE: close_case,
    Action.REOPEN: reopen_case,
}
DECISIONS = {Action.RESOLVE, Action.DECLINE}
DONE = {
    Action.ACKNOWLEDGE: _l("The case is acknowledged."),
    Action.ACCEPT: _l("The case is accepted for handling."),
    Action.DECLINE: _l("The case is not accepted; the reporter sees the reasons."),
    Action.RESOLVE: _l("The case is resolved; the reporter sees the outcome."),
    Action.CLOSE: _l("The case is closed."),
    Action.REOPEN: _l("The case is reopened."),
}


@bp.post("/cases/<case_id>/do/<action>")
@staff_required(*HANDLERS)
def transition(user: StaffUser, case_id: str, action: str):
    """Acknowledge, accept, close or reopen (a button); resolve or decline (with reasons)."""
    chosen = next((a for a in Action if a.value == action), None)
    db = get_db()
    if chosen in SIMPLE_TRANSITIONS:
        outcome = SIMPLE_TRANSITIONS[chosen](db, user.account, case_id)
    elif chosen in DECISIONS:
        form = DecisionForm()
        if not form.validate():
            return render_case(user, case_id, 400, decision_form=form)
        outcome = (
            resolve_case(db, user.principal, case_id, summary=form.text.data)
            if chosen == Action.RESOLVE
            else decline_case(db, user.principal, case_id, reason=form.text.data)
        )
    else:
        abort(404)
    return done(outcome.changed, str(DONE[chosen]), case_id)


@bp.post("/cases/<case_id>/reply")
@staff_required(*HANDLERS)
def reply(user: StaffUser, case_id: str):
    form = ReplyForm()
    if not form.validate():
        return render_case(user, case_id, 400, reply_form=form)
    reply_to_reporter(get_db(), user.principal, case_id, text=form.text.data)
    flash(_("Your reply was sent. The reporter sees it when they next follow up."))
    return redirect(url_for("board.case", case_id=case_id))


@bp.post("/cases/<case_id>/question")
@staff_required(*HANDLERS)
def question(user: StaffUser, case_id: str):
    form = QuestionForm()
    if not form.validate():
        return render_case(user, case_id, 400, question_form=form)
    reply_to_reporter(
        get_db(), user.principal, case_id, text=form.text.data, kind=MessageKind.QUESTION
    )
    flash(_("Your question was sent. The reporter sees it, marked, when they next follow up."))
    return redirect(url_for("board.case", case_id=case_id))


@bp.post("/cases/<case_id>/note")
@staff_required(*HANDLERS)
def note(user: StaffUser, case_id: str):
    form = NoteForm()
    if not form.validate():
        return render_case(user, case_id, 400, note_form=form)
    add_note(get_db(), user.principal, case_id, text=form.text.data)
    flash(_("The note was added. Only the handlers of the case can read it."))
    return redirect(url_for("board.case", case_id=case_id))


@bp.post("/cases/<case_id>/assign")
@staff_required(Role.CHAIR)
def assign(user: StaffUser, case_id: str):
    form = AssignForm()
    if not form.validate():
        return render_case(user, case_id, 400, assign_form=form)
    outcome = assign_case(get_db(), user.account, case_id, assignee_id=form.assignee.data)
    name = outcome.case.assignee.display_name  # type: ignore[union-attr]  # it was just assigned
    return done(outcome.changed, _("The case is assigned to %(name)s.", name=name), case_id)


@bp.post("/cases/<case_id>/extend")
@staff_required(Role.CHAIR)
def extend(user: StaffUser, case_id: str):
    form = ExtendForm()
    if not form.validate():
        return render_case(user, case_id, 400, extend_form=form)
    outcome = extend_deadline(
        get_db(), user.principal, case_id, reason=form.reason.data, from_due=form.from_due.data
    )
    due = outcome.case.resolve_due.strftime("%d/%m/%Y")  # type: ignore[union-attr]  # just set
    return done(outcome.changed, _("The deadline is now %(date)s.", date=due), case_id)


@bp.post("/cases/<case_id>/transfer")
@staff_required(*HANDLERS)
def transfer(user: StaffUser, case_id: str):
    form = TransferForm()
    if not form.validate():
        return render_case(user, case_id, 400, transfer_form=form)
    outcome = transfer_case(
        get_db(),
        user.principal,
        case_id,
        to_body_id=form.to_body.data,
        keep_access=form.keep_access.data,
        reason=form.reason.data,
    )
    flash(
        _("The case was transferred to %(body)s.", body=outcome.case.body.name(str(get_locale())))
        if outcome.changed
        else _("This had already been done; nothing changed.")
    )
    if form.keep_access.data:
        return redirect(url_for("board.case", case_id=case_id))
    return redirect(url_for("board.cases"))


@bp.post("/cases/<case_id>/recuse")
@staff_required(*HANDLERS)
def recuse(user: StaffUser, case_id: str):
    form = RecuseForm()
    if not form.validate():
        return render_case(user, case_id, 400, recuse_form=form)
    outcome = recuse_case(get_db(), user.account, case_id)
    flash(
        _(
            "You have stepped aside from %(reference)s and can no longer open it.",
            reference=outcome.case.reference,
        )
        if outcome.changed
        else _("This had already been done; nothing changed.")
    )
    return redirect(url_for("board.cases"))


@bp.post("/cases/<case_id>/identity")
@staff_required(Role.CHAIR)
def identity(user: StaffUser, case_id: str):
    form = GrantIdentityForm()
    if not form.validate():
        return render_case(user, case_id, 400, identity_form=form)
    outcome = grant_identity(get_db(), user.principal, case_id, account_id=form.account.data)
    return done(
        outcome.changed, _("The reporter's identity is now shown to that handler."), case_id
    )


@bp.post("/cases/<case_id>/publication")
@staff_required(*HANDLERS)
def publication(user: StaffUser, case_id: str):
    form = PublicationForm()
    if not form.validate():
        return render_case(user, case_id, 400, publication_form=form)
    draft_publication(get_db(), user.principal, case_id, text=form.text.data)
    return done(
        True, _("The draft was saved. The chair approves it before it is published."), case_id
    )


@bp.post("/cases/<case_id>/publication/<int:publication_id>/approve")
@staff_required(Role.CHAIR)
def approve(user: StaffUser, case_id: str, publication_id: int):
    form = ApproveForm()
    if not form.validate() or not form.revision.data.isdigit():
        return render_case(user, case_id, 400)
    outcome = approve_publication(
        get_db(),
        user.principal,
        case_id,
        publication_id=publication_id,
        revision=int(form.revision.data),
        publication_days=get_settings().publication_days,
    )
    return done(outcome.changed, _("The summary is published on the results page."), case_id)


@bp.post("/cases/<case_id>/publication/<int:publication_id>/withdraw")
@staff_required(Role.CHAIR)
def withdraw(user: StaffUser, case_id: str, publication_id: int):
    PostOnlyForm().validate()
    outcome = withdraw_publication(
        get_db(),
        user.account,
        case_id,
        publication_id=publication_id,
        publication_days=get_settings().publication_days,
    )
    return done(outcome.changed, _("The summary was taken off the results page."), case_id)


# --- the organisation's audit log ------------------------------------------------------------


AUDIT_ACTION = re.compile(r"^[a-z_]+\.[a-z_]+$")


@bp.get("/audit")
@staff_required(Role.CHAIR)
def audit(user: StaffUser):
    action = request.args.get("action") or None
    page = request.args.get("page", "1")
    if (action is not None and not AUDIT_ACTION.match(action)) or not page.isdigit():
        abort(400)
    log = organisation_log(get_db(), user.account, action=action, page=int(page))
    return render_template("board/audit.html", log=log, action=action, events=EVENT_LABELS)


@bp.get("/cases/<case_id>/files/<attachment_id>")
@staff_required(*HANDLERS)
def attachment(user: StaffUser, case_id: str, attachment_id: str):
    info, chunks = open_attachment_for_handler(
        get_db(),
        user.principal,
        case_id,
        attachment_id=attachment_id,
        read_session=get_database().read_sessionmaker,
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
    except SealingError:
        logging.getLogger("homthu.files").error("an attachment failed authentication")


# --- reports (chairs) ------------------------------------------------------------------------


@bp.get("/reports")
@staff_required(Role.CHAIR)
def reports(user: StaffUser):
    from service.reporting.reports import FORMATS, recent_periods

    return render_template(
        "board/reports.html",
        periods=recent_periods(local_today(), get_settings().report_year_start),
        formats=FORMATS,
    )


@bp.get("/reports/<period>.<fmt>")
@staff_required(Role.CHAIR)
def report_download(user: StaffUser, period: str, fmt: str):
    """The chair's body's report of a period, as DOCX or CSV (audited)."""
    from service.reporting.reports import export_report

    report = export_report(
        get_db(),
        current_organisation(),
        period,
        fmt,
        actor=Actor.staff(user.account),
        settings=get_settings(),
        body_id=user.account.body_id,
    )
    return report_response(report)
