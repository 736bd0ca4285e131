"""A staff member's own account: accepting an invitation, the two-step login set-up, changing
the password, and giving a new colleague access to the body's cases."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from service.admin import invitations
from service.cases.handover import colleagues, grant_access, unreadable_cases
from service.models import Role
from service.people import twofactor
from service.people.accounts import change_password, confirm_enrolment, pending_totp_secret
from service.people.sessions import ENROL, FULL, STAFF_COOKIE
from service.platform.db import get_db
from service.platform.errors import CodeRejected, InvalidSubmission
from service.web.access import (
    StaffUser,
    home_url,
    landing_url,
    public,
    staff_required,
    staff_session_policy,
)
from service.web.common import current_organisation, no_store, set_session_cookie
from service.web.forms import ChangePasswordForm, CodeForm, NewPasswordForm, PostOnlyForm
from service.web.qr import qr_data_uri

bp = Blueprint("account", __name__, url_prefix="/board")

HANDLERS = (Role.HANDLER, Role.CHAIR)


bp.after_request(no_store)


@bp.before_app_request
def _chair_warning() -> None:
    """A chair's board pages warn of open cases that no active member can read any more."""
    if request.blueprint not in ("board", "account") or not current_user.is_authenticated:
        return
    user = current_user._get_current_object()
    if user.stage == FULL and user.role == Role.CHAIR and user.account.body_id:
        g.unreadable_cases = len(unreadable_cases(get_db(), user.account.body_id))


# --- an invitation or reset link -----------------------------------------------------------


@bp.route("/invite/<token>", methods=["GET", "POST"])
@public
def invite(token: str):
    db = get_db()
    invitation = invitations.find(db, current_organisation(), token)
    form = NewPasswordForm().for_person(invitation.email, invitation.display_name)
    if request.method == "GET" or not form.validate():
        status = 200 if request.method == "GET" else 400
        return render_template("account/invite.html", form=form, invitation=invitation), status
    accepted = invitations.accept(
        db,
        current_organisation(),
        token,
        form.password.data,
        profile=current_app.extensions["homthu.kdf"],
        policy=staff_session_policy(),
    )
    response = redirect(url_for("account.enrol"))
    set_session_cookie(response, STAFF_COOKIE, accepted.cookie)
    return response


# --- the two-step login --------------------------------------------------------------------


def _render_enrol(user: StaffUser, form: CodeForm, status: int = 200, error: str | None = None):
    secret = pending_totp_secret(get_db(), user.account)
    uri = twofactor.provisioning_uri(secret, user.account, current_organisation().name)
    page = render_template(
        "account/enrol.html",
        form=form,
        qr=qr_data_uri(uri),
        secret=twofactor.grouped(secret),
        error=error,
    )
    return page, status


@bp.get("/two-factor")
@staff_required(stages=(ENROL,))
def enrol(user: StaffUser):
    return _render_enrol(user, CodeForm(formdata=None))


@bp.post("/two-factor")
@staff_required(stages=(ENROL,))
def confirm(user: StaffUser):
    form = CodeForm()
    if not form.validate():
        return _render_enrol(user, form, 400)
    try:
        cookie, codes = confirm_enrolment(
            get_db(),
            user.principal,
            old_cookie=request.cookies.get(STAFF_COOKIE),
            code=form.code.data,
            policy=staff_session_policy(),
        )
    except CodeRejected as rejected:
        return _render_enrol(user, CodeForm(formdata=None), 400, str(rejected.message))
    next_url = landing_url(user.role, FULL)
    response = Response(
        render_template("account/recovery_codes.html", codes=codes, next_url=next_url)
    )
    set_session_cookie(response, STAFF_COOKIE, cookie)
    return response


# --- the password --------------------------------------------------------------------------


@bp.route("/password", methods=["GET", "POST"])
@staff_required()
def password(user: StaffUser):
    account = user.account
    form = ChangePasswordForm().for_person(account.email, account.display_name)
    if request.method == "GET" or not form.validate():
        status = 200 if request.method == "GET" else 400
        return render_template("account/password.html", form=form), status
    try:
        cookie = change_password(
            get_db(),
            user.principal,
            current_password=form.current.data,
            new_password=form.password.data,
            profile=current_app.extensions["homthu.kdf"],
            policy=staff_session_policy(),
        )
    except InvalidSubmission as refused:
        return render_template("account/password.html", form=form, error=refused.message), 400
    flash(_("Your password was changed. Every other session of your account has ended."))
    response = redirect(home_url(user))
    set_session_cookie(response, STAFF_COOKIE, cookie)
    return response


# --- colleagues ----------------------------------------------------------------------------


@bp.get("/colleagues")
@staff_required(*HANDLERS)
def team(user: StaffUser):
    return render_template(
        "account/colleagues.html",
        people=colleagues(get_db(), user.account),
        form=PostOnlyForm(),
    )


@bp.post("/colleagues/<int:account_id>/grant")
@staff_required(*HANDLERS)
def grant(user: StaffUser, account_id: int):
    form = PostOnlyForm()
    if not form.validate():
        return redirect(url_for("account.team"))
    result = grant_access(get_db(), user.principal, grantee_id=account_id)
    flash(
        _(
            "Access granted to %(granted)d more cases; %(excluded)d skipped because the "
            "reporter excluded this person.",
            granted=result.granted,
            excluded=result.excluded,
        )
    )
    return redirect(url_for("account.team"))
