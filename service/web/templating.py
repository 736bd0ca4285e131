"""What every template may use: labels, dates, the demo banner."""

from __future__ import annotations

import datetime as dt

from flask import Flask, g
from flask_babel import format_date, format_datetime, get_locale
from flask_babel import lazy_gettext as _l

from ..clock import local_today
from ..models import CaseStatus, Track
from .forms import KIND_LABELS

STATUS_LABELS = {
    CaseStatus.NEW: _l("New"),
    CaseStatus.ACKNOWLEDGED: _l("Acknowledged"),
    CaseStatus.IN_PROGRESS: _l("In progress"),
    CaseStatus.RESOLVED: _l("Resolved"),
    CaseStatus.NOT_ACCEPTED: _l("Not accepted"),
    CaseStatus.CLOSED: _l("Closed"),
}

TRACK_LABELS = {
    Track.FORMAL: _l("Formal"),
    Track.INFORMATION: _l("Handled as information"),
}


def register_template_helpers(app: Flask) -> None:
    # Reads only what the request already loaded: rendering (pages or mail) never queries.
    @app.context_processor
    def _globals():
        organisation = g.get("organisation")
        return {
            "locale": str(get_locale()),
            "is_demo": bool(organisation and organisation.is_demo),
            "organisation_name": organisation.name if organisation else None,
            "kind_label": lambda kind: KIND_LABELS.get(kind, kind),
            "status_label": lambda status: STATUS_LABELS.get(status, status),
            "track_label": lambda track: TRACK_LABELS.get(track, track),
            "today": local_today(),
        }

    app.jinja_env.filters["day"] = _day
    app.jinja_env.filters["moment"] = _moment
    app.jinja_env.filters["filesize"] = _filesize


def _day(value: dt.date | None) -> str:
    return format_date(value, "dd/MM/yyyy") if value else ""


def _moment(value: dt.datetime | None) -> str:
    return format_datetime(value, "HH:mm dd/MM/yyyy") if value else ""


def _filesize(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
