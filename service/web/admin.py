"""The administration area (/admin): for administrators only, and nothing in it opens a case.

Views parse the form, call one domain function (service/admin/settings.py, invitations, handover,
retention) and render. Every route is `staff_required(Role.ADMIN)`.

Not here yet (other issues build the domain functions these pages will show):
- the organisation-wide audit log (issue 3's `organisation_log`).
"""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from service.admin import invitations
from service.admin import settings as domain
from service.audit.trail import Actor
from service.cases import retention
from service.cases.handover import deactivate_account, unreadable_cases
from service.models import Role
from service.platform.clock import local_today, utcnow
from service.platform.db import get_db
from service.platform.settings import get_settings
from service.web.access import StaffUser, staff_required
from service.web.admin_forms import (
    ANY,
    RECIPIENT_LABELS,
    ROLE_LABELS,
    UNIT_LABELS,
    BodyForm,
    CategoryForm,
    DeadlineForm,
    InviteForm,
    OrganisationForm,
    RecipientForm,
    RetentionForm,
    RoutingForm,
)
from service.web.common import current_organisation, no_store, report_response
from service.web.forms import PostOnlyForm
from service.web.templating import STATUS_LABELS

bp = Blueprint("admin", __name__, url_prefix="/admin")
ADMIN = Role.ADMIN


bp.after_request(no_store)


@bp.app_context_processor
def _labels():
    return {
        "role_label": lambda role: ROLE_LABELS.get(role, role),
        "recipient_label": lambda kind: RECIPIENT_LABELS.get(kind, kind),
        "unit_label": lambda unit: UNIT_LABELS.get(unit, unit),
    }


def _back(endpoint: str, message: str | None = None):
    if message:
        flash(message)
    return redirect(url_for(endpoint))


def _button_pressed() -> bool:
    """A POST made of a button alone: only its CSRF token to check."""
    return PostOnlyForm().validate()


@bp.get("/")
@staff_required(ADMIN)
def index(user: StaffUser):
    from service.mail.delivery import failed_mail, outbox_counts

    organisation = current_organisation()
    db = get_db()
    return render_template(
        "admin/index.html",
        organisation=organisation,
        mail_counts=outbox_counts(db, organisation.id),
        failed_mail=failed_mail(db, organisation.id, limit=50),
    )


# --- reports -------------------------------------------------------------------------------


@bp.get("/reports")
@staff_required(ADMIN)
def reports(user: StaffUser):
    from service.reporting.reports import FORMATS, recent_periods

    periods = recent_periods(local_today(), get_settings().report_year_start)
    return render_template("admin/reports.html", periods=periods, formats=FORMATS)


@bp.get("/reports/<period>.<fmt>")
@staff_required(ADMIN)
def report_download(user: StaffUser, period: str, fmt: str):
    """The whole unit's report of a period, as DOCX or CSV (audited)."""
    from service.reporting.reports import export_report

    report = export_report(
        get_db(),
        current_organisation(),
        period,
        fmt,
        actor=Actor.staff(user.account),
        settings=get_settings(),
    )
    return report_response(report)


# --- organisation --------------------------------------------------------------------------


@bp.route("/organisation", methods=["GET", "POST"])
@staff_required(ADMIN)
def organisation(user: StaffUser):
    current = current_organisation()
    form = OrganisationForm(obj=current if request.method == "GET" else None)
    if request.method == "GET" or not form.validate():
        status = 200 if request.method == "GET" else 400
        return render_template("admin/organisation.html", form=form), status
    domain.update_organisation(
        get_db(), user.account, name=form.name.data, place_name=form.place_name.data or ""
    )
    return _back("admin.organisation", _("Saved."))


# --- bodies --------------------------------------------------------------------------------


def _render_bodies(user: StaffUser, form: BodyForm, status: int = 200):
    db = get_db()
    all_bodies = domain.bodies(db, user.account)
    page = render_template(
        "admin/bodies.html",
        bodies=all_bodies,
        unreadable={body.id: len(unreadable_cases(db, body.id)) for body in all_bodies},
        form=form,
        button=PostOnlyForm(),
    )
    return page, status


@bp.get("/bodies")
@staff_required(ADMIN)
def bodies(user: StaffUser):
    return _render_bodies(user, BodyForm(formdata=None))


@bp.post("/bodies")
@staff_required(ADMIN)
def add_body(user: StaffUser):
    form = BodyForm()
    if not form.validate():
        return _render_bodies(user, form, 400)
    new = domain.add_head_of_unit(
        get_db(),
        user.account,
        code=form.code.data,
        name_vi=form.name_vi.data,
        name_en=form.name_en.data,
    )
    # Shown once, in the response to the POST: reloading the page does not show it again.
    return render_template("admin/recovery_code.html", body=new.body, code=new.recovery_code)


@bp.post("/bodies/<int:body_id>/deactivate")
@staff_required(ADMIN)
def deactivate_body(user: StaffUser, body_id: int):
    if _button_pressed():
        domain.set_body_active(get_db(), user.account, body_id, False)
    return _back("admin.bodies", _("The body receives no new reports."))


@bp.post("/bodies/<int:body_id>/activate")
@staff_required(ADMIN)
def activate_body(user: StaffUser, body_id: int):
    if _button_pressed():
        domain.set_body_active(get_db(), user.account, body_id, True)
    return _back("admin.bodies", _("The body receives reports again."))


# --- staff ---------------------------------------------------------------------------------


def _body_choices(user: StaffUser) -> list[SelectChoice]:
    return [SelectChoice(ANY, "—")] + [
        SelectChoice(str(b.id), f"{b.code} — {b.name_vi}")
        for b in domain.bodies(get_db(), user.account)
        if b.active
    ]


def _render_staff(user: StaffUser, form: InviteForm, status: int = 200):
    db = get_db()
    form.body.choices = _body_choices(user)
    accounts = domain.staff_accounts(db, user.account)
    page = render_template(
        "admin/staff.html",
        accounts=accounts,
        invitations=invitations.open_invitations(db, user.account.organisation_id, utcnow()),
        form=form,
        button=PostOnlyForm(),
        me=user.account,
    )
    return page, status


@bp.get("/staff")
@staff_required(ADMIN)
def staff(user: StaffUser):
    return _render_staff(user, InviteForm(formdata=None))


@bp.post("/staff")
@staff_required(ADMIN)
def invite(user: StaffUser):
    form = InviteForm()
    form.body.choices = _body_choices(user)
    if not form.validate():
        return _render_staff(user, form, 400)
    invitations.invite(
        get_db(),
        user.account,
        email=form.email.data,
        display_name=form.display_name.data,
        role=Role(form.role.data),
        body_id=form.body_id() if form.role.data != Role.ADMIN else None,
        base_url=get_settings().public_base_url,
        hours=get_settings().invite_hours,
    )
    return _back("admin.staff", _("The invitation was sent by mail."))


@bp.post("/staff/<int:account_id>/deactivate")
@staff_required(ADMIN)
def deactivate(user: StaffUser, account_id: int):
    if not _button_pressed():
        return _back("admin.staff")
    departure = deactivate_account(get_db(), user.account, account_id)
    message = _("The account was deactivated and its keys to cases removed.")
    if departure.unreadable:
        message += " " + _(
            "%(count)d open cases of the body can no longer be read by any active member: the "
            "chair was warned, and the body's recovery key can grant them again.",
            count=departure.unreadable,
        )
    return _back("admin.staff", message)


@bp.post("/staff/<int:account_id>/reset")
@staff_required(ADMIN)
def reset(user: StaffUser, account_id: int):
    if not _button_pressed():
        return _back("admin.staff")
    invitations.reset_password(
        get_db(),
        user.account,
        account_id,
        base_url=get_settings().public_base_url,
        hours=get_settings().invite_hours,
    )
    return _back(
        "admin.staff",
        _(
            "A reset link was sent by mail. With it the person gets new keys: a colleague or "
            "the body's recovery key must grant their cases again."
        ),
    )


@bp.post("/invitations/<int:invitation_id>/revoke")
@staff_required(ADMIN)
def revoke(user: StaffUser, invitation_id: int):
    if _button_pressed():
        invitations.revoke(get_db(), user.account, invitation_id)
    return _back("admin.staff", _("The link no longer works."))


# --- summary recipients --------------------------------------------------------------------


def _render_recipients(user: StaffUser, form: RecipientForm, status: int = 200):
    page = render_template(
        "admin/recipients.html",
        recipients=domain.recipients(get_db(), user.account),
        form=form,
        button=PostOnlyForm(),
    )
    return page, status


@bp.get("/recipients")
@staff_required(ADMIN)
def recipients(user: StaffUser):
    return _render_recipients(user, RecipientForm(formdata=None))


@bp.post("/recipients")
@staff_required(ADMIN)
def add_recipient(user: StaffUser):
    form = RecipientForm()
    if not form.validate():
        return _render_recipients(user, form, 400)
    domain.add_recipient(
        get_db(),
        user.account,
        email=form.email.data,
        display_name=form.display_name.data,
        kind=form.kind.data,
    )
    return _back("admin.recipients", _("Saved."))


@bp.post("/recipients/<int:recipient_id>/deactivate")
@staff_required(ADMIN)
def deactivate_recipient(user: StaffUser, recipient_id: int):
    if _button_pressed():
        domain.deactivate_recipient(get_db(), user.account, recipient_id)
    return _back("admin.recipients", _("Saved."))


# --- categories and routing ----------------------------------------------------------------


def _render_routing(
    user: StaffUser, category_form: CategoryForm, routing_form: RoutingForm, status=200
):
    db = get_db()
    categories = domain.categories(db, user.account)
    bodies = domain.bodies(db, user.account)
    routing_form.category.choices = [SelectChoice(ANY, _("Any category"))] + [
        SelectChoice(str(c.id), c.name_vi) for c in categories if c.active
    ]
    routing_form.body.choices = [
        SelectChoice(str(b.id), f"{b.code} — {b.name_vi}") for b in bodies if b.active
    ]
    page = render_template(
        "admin/routing.html",
        categories=categories,
        category_names={c.id: c for c in categories},
        body_names={b.id: b for b in bodies},
        rules=domain.routing_rules(db, user.account),
        category_form=category_form,
        routing_form=routing_form,
        button=PostOnlyForm(),
    )
    return page, status


@bp.get("/routing")
@staff_required(ADMIN)
def routing(user: StaffUser):
    return _render_routing(user, CategoryForm(formdata=None), RoutingForm(formdata=None))


@bp.post("/categories")
@staff_required(ADMIN)
def add_category(user: StaffUser):
    form = CategoryForm()
    if not form.validate():
        return _render_routing(user, form, RoutingForm(formdata=None), 400)
    domain.add_category(
        get_db(),
        user.account,
        code=form.code.data,
        name_vi=form.name_vi.data,
        name_en=form.name_en.data,
    )
    return _back("admin.routing", _("Saved."))


@bp.post("/categories/<int:category_id>/deactivate")
@staff_required(ADMIN)
def deactivate_category(user: StaffUser, category_id: int):
    if _button_pressed():
        domain.set_category_active(get_db(), user.account, category_id, False)
    return _back("admin.routing", _("Saved."))


@bp.post("/categories/<int:category_id>/activate")
@staff_required(ADMIN)
def activate_category(user: StaffUser, category_id: int):
    if _button_pressed():
        domain.set_category_active(get_db(), user.account, category_id, True)
    return _back("admin.routing", _("Saved."))


@bp.post("/routing")
@staff_required(ADMIN)
def set_route(user: StaffUser):
    form = RoutingForm()
    if not form.validate() or not (form.body.data or "").isdigit():
        return _render_routing(user, CategoryForm(formdata=None), form, 400)
    domain.set_routing_rule(
        get_db(),
        user.account,
        kind=form.kind.data or None,
        category_id=form.category_id(),
        body_id=int(form.body.data),
    )
    return _back("admin.routing", _("Saved."))


@bp.post("/routing/<int:rule_id>/delete")
@staff_required(ADMIN)
def delete_route(user: StaffUser, rule_id: int):
    if _button_pressed():
        domain.delete_routing_rule(get_db(), user.account, rule_id)
    return _back("admin.routing", _("Saved."))


# --- deadlines -----------------------------------------------------------------------------


def _render_deadlines(user: StaffUser, forms: dict[int, DeadlineForm] | None = None, status=200):
    rules = domain.deadline_rules(get_db(), user.account)
    forms = forms or {}
    for rule in rules:
        forms.setdefault(rule.id, DeadlineForm(formdata=None, obj=rule, prefix=f"r{rule.id}"))
    return render_template("admin/deadlines.html", rules=rules, forms=forms), status


@bp.get("/deadlines")
@staff_required(ADMIN)
def deadlines(user: StaffUser):
    return _render_deadlines(user)


@bp.post("/deadlines/<int:rule_id>")
@staff_required(ADMIN)
def update_deadline(user: StaffUser, rule_id: int):
    form = DeadlineForm(prefix=f"r{rule_id}")
    if not form.validate():
        return _render_deadlines(user, {rule_id: form}, 400)
    domain.update_deadline_rule(
        get_db(),
        user.account,
        rule_id,
        days=form.days.data,
        unit=form.unit.data,
        max_extensions=form.max_extensions.data,
        extension_days=form.extension_days.data,
    )
    return _back("admin.deadlines", _("Saved. Cases already received keep their deadlines."))


# --- retention -----------------------------------------------------------------------------


def _render_retention(user: StaffUser, forms: dict[str, RetentionForm] | None = None, status=200):
    db = get_db()
    periods = retention.periods(db, user.account.organisation_id)
    forms = forms or {}
    for status_name, months in periods.items():
        form = RetentionForm(formdata=None, prefix=status_name)
        form.years.data = months // 12 if months else None
        forms.setdefault(status_name, form)
    waiting = retention.expired_cases(db, user.account.organisation_id, local_today())
    page = render_template(
        "admin/retention.html",
        periods=periods,
        forms=forms,
        status_labels=STATUS_LABELS,
        waiting=len(waiting),
    )
    return page, status


@bp.get("/retention")
@staff_required(ADMIN)
def retention_periods(user: StaffUser):
    return _render_retention(user)


@bp.post("/retention/<status>")
@staff_required(ADMIN)
def set_retention(user: StaffUser, status: str):
    if status not in retention.FINAL_STATUSES:
        return _back("admin.retention_periods")
    form = RetentionForm(prefix=status)
    if not form.validate():
        return _render_retention(user, {status: form}, 400)
    months = form.years.data * 12 if form.years.data else None
    retention.set_period(
        get_db(),
        user.account.organisation_id,
        status=status,
        months=months,
        actor=Actor.staff(user.account),
    )
    return _back("admin.retention_periods", _("Saved."))
