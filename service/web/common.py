"""Helpers shared by the blueprints: the organisation served, language, safe redirects."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

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


NEXT_MAX_LENGTH = 2048
_PRINTABLE_ASCII = re.compile(r"[!-~]+")  # no space, no control character, nothing beyond ASCII
_ENCODED_SLASH = re.compile(r"%(2f|5c)", re.IGNORECASE)
_UNQUOTE_ROUNDS = 4  # deeper layers of percent-encoding than this are odd in themselves


def safe_next(target: str | None, default: str) -> str:
    """`target` if it is surely a path of this site, else `default`: never an open redirect.

    Browsers forgive a lot (they drop tabs and newlines, read `\\` as `/`, fold look-alike
    characters), so rather than guess how one would read an odd value, anything odd is refused:
    the value must be printable ASCII, a path starting with a single `/`, with no scheme, host,
    backslash or encoded slash, and stay so at every layer of percent-decoding and after Unicode
    compatibility folding. An empty query is dropped, as the Location header would drop it.
    """
    if not target or len(target) > NEXT_MAX_LENGTH or not _PRINTABLE_ASCII.fullmatch(target):
        return default
    layers = _decoded_layers(target)
    if layers is None or any(_may_leave_site(layer) for layer in layers):
        return default
    return urlunsplit(urlsplit(target))


def _decoded_layers(text: str) -> list[str] | None:
    """`text` and each percent-decoding of it until nothing changes (None: too many layers)."""
    layers = [text]
    for _ in range(_UNQUOTE_ROUNDS):
        if _ENCODED_SLASH.search(layers[-1]):
            return None  # an encoded slash or backslash is read as a real one by someone
        decoded = unquote(layers[-1])
        if decoded == layers[-1]:
            return [*layers, unicodedata.normalize("NFKC", decoded)]
        layers.append(decoded)
    return None


def _may_leave_site(text: str) -> bool:
    if not text.startswith("/") or text.startswith("//") or "\\" in text:
        return True
    if any(unicodedata.category(char)[0] in "CZ" and char != " " for char in text):
        return True  # control, format (bidi, zero-width) and unusual space characters
    parts = urlsplit(text)
    return bool(parts.scheme or parts.netloc)


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
