"""Who may reach each route. Deny by default: a view without a declaration answers 404.

Every view is wrapped by exactly one of `public`, `reporter_required` or `staff_required`; a
check before each request refuses any endpoint that carries none, and a test walks the URL map
to prove every route says who may reach it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import abort, current_app, g, redirect, request, url_for
from flask_login import UserMixin, current_user

from service.models import Account, Role
from service.people.principal import Principal
from service.people.sessions import (
    ENROL,
    FULL,
    REPORTER_COOKIE,
    STAFF_COOKIE,
    EndedStaffSession,
    ReporterAccess,
    StaffSessionPolicy,
    load_reporter_session,
    load_staff_session,
)
from service.platform.db import get_db

ACCESS_ATTRIBUTE = "homthu_access"
STAGES_ATTRIBUTE = "homthu_stages"


def _declare(view: Callable, access: str) -> None:
    setattr(view, ACCESS_ATTRIBUTE, access)


def public(view: Callable) -> Callable:
    """Anyone may reach this view (it must not reveal anything about any case)."""
    _declare(view, "public")
    return view


def refuse_undeclared_views() -> None:
    """before_request: an endpoint without an access declaration does not exist."""
    if request.endpoint is None or request.endpoint == "static":
        return
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, ACCESS_ATTRIBUTE, None) is None:
        abort(404)


# --- staff ---------------------------------------------------------------------------------


@dataclass
class StaffUser(UserMixin):
    """The logged-in handler, chair or administrator: the principal the board's commands act as
    (the account with its unlocked private key, built once per request), and the session's
    stage."""

    principal: Principal
    stage: str = FULL

    @property
    def account(self) -> Account:
        return self.principal.account

    def get_id(self) -> str:
        return str(self.account.id)

    @property
    def role(self) -> str:
        return self.account.role


def staff_session_policy() -> StaffSessionPolicy:
    return StaffSessionPolicy(
        idle=dt.timedelta(minutes=current_app.config["STAFF_IDLE_MINUTES"]),
        absolute=dt.timedelta(hours=current_app.config["STAFF_ABSOLUTE_HOURS"]),
    )


def load_staff_user(_request: Any) -> StaffUser | None:
    """Flask-Login's request loader: the server-side session behind the staff cookie."""
    cookie = request.cookies.get(STAFF_COOKIE)
    if not cookie:
        return None
    opened = load_staff_session(get_db(), cookie, staff_session_policy())
    if opened is None or isinstance(opened, EndedStaffSession):
        g.staff_session_ended = opened.reason if opened else True
        return None
    return StaffUser(Principal(opened.account, opened.private_key), opened.stage)


def home_url(user: StaffUser) -> str:
    return landing_url(user.role, user.stage)


def landing_url(role: str, stage: str) -> str:
    """Where a staff member starts: setting up the two-step login, the admin area or the board."""
    if stage == ENROL:
        return url_for("account.enrol")
    if role == Role.ADMIN:
        return url_for("admin.index")
    return url_for("board.cases")


def staff_required(
    *roles: Role, stages: tuple[str, ...] = (FULL,)
) -> Callable[[Callable], Callable]:
    """Logged-in staff (of `roles`, if given); the view receives the StaffUser first.

    A session still setting up the two-step login (stage ENROL) reaches only the views that
    list that stage; anywhere else it is sent to the set-up page.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            from service.platform.extensions import login_manager

            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            user: StaffUser = current_user._get_current_object()
            if user.stage not in stages:
                return redirect(home_url(user))
            if roles and user.role not in roles:
                abort(403)
            return view(user, *args, **kwargs)

        _declare(wrapped, "staff:" + ",".join(roles) if roles else "staff")
        setattr(wrapped, STAGES_ATTRIBUTE, stages)
        return wrapped

    return decorator


# --- reporters -----------------------------------------------------------------------------


def reporter_idle() -> dt.timedelta:
    return dt.timedelta(minutes=current_app.config["REPORTER_IDLE_MINUTES"])


class ReporterSessionEnded(Exception):
    """The follow-up cookie is missing or its session expired: ask for the receipt again."""


def reporter_required(view: Callable) -> Callable:
    """A reporter in a follow-up session; the view receives the ReporterAccess first."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        access: ReporterAccess | None = load_reporter_session(
            get_db(), request.cookies.get(REPORTER_COOKIE), reporter_idle()
        )
        if access is None:
            raise ReporterSessionEnded()
        return view(access, *args, **kwargs)

    _declare(wrapped, "reporter")
    return wrapped
