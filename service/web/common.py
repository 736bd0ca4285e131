"""Helpers shared by the blueprints: the organisation served, language, safe redirects."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response, abort, current_app, g, request
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse  # what redirect() returns

from service.models import Organisation
from service.platform.db import get_db

LANG_COOKIE = "homthu_lang"
LOCALES = ("vi", "en")


@dataclass(frozen=True)
class Masthead:
    """What every page's header shows of the organisation, as plain values: an error page
    shows it without reading the organisation's row, which a rollback expired and which a lost
    database could not load again."""

    name: str
    is_demo: bool


def current_organisation() -> Organisation:
    """The organisation this site serves: ORGANISATION's slug, or the only one there is."""
    if "organisation" not in g:
        db = get_db()
        slug = current_app.config["ORGANISATION"]
        query = select(Organisation).order_by(Organisation.id).limit(2)
        if slug:
            query = query.where(Organisation.slug == slug)
        found = list(db.scalars(query))
        if len(found) != 1:
            abort(503)  # not set up yet, or ambiguous: the error page says so
        g.organisation = found[0]
        g.masthead = Masthead(found[0].name, found[0].is_demo)
    return g.organisation


def load_organisation() -> None:
    """before_request: every page knows its organisation (and whether it is the demo)."""
    if request.endpoint != "static":
        current_organisation()


def select_locale() -> str:
    chosen = request.cookies.get(LANG_COOKIE) if request else None
    return chosen if chosen in LOCALES else "vi"


def safe_next(target: str | None, default: str) -> str:
    """Only same-site relative paths: an open redirect would be a phishing tool."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def set_session_cookie(response: BaseResponse, name: str, value: str, path: str = "/") -> None:
    """A session cookie: never readable by scripts, never sent cross-site, HTTPS in production."""
    response.set_cookie(
        name,
        value,
        path=path,
        httponly=True,
        samesite="Strict",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )


def no_store(response: Response) -> Response:
    """after_request of the staff areas: no page of theirs is kept in a browser's cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


def report_response(report) -> Response:
    """A report (service.reports.ExportedReport) as a download, never shown in the page."""
    response = Response(report.data, mimetype=report.content_type)
    response.headers.set("Content-Disposition", "attachment", filename=report.filename)
    return response
