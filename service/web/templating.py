"""What every template may use: labels, dates, the demo banner."""

from __future__ import annotations

import datetime as dt

from flask import Flask, g
from flask_babel import format_datetime, get_locale
from flask_babel import lazy_gettext as _l

from service.cases.lifecycle import Action
from service.models import CaseStatus, DeadlineStage, Priority, Track
from service.platform.clock import local_today
from service.web.common import Masthead
from service.web.forms import KIND_LABELS

__all__ = ["ACTION_LABELS", "EVENT_LABELS", "KIND_LABELS", "STATUS_LABELS", "TRACK_LABELS"]

STATUS_LABELS = {
    CaseStatus.NEW: _l("New"),
    CaseStatus.TRANSFERRED: _l("Transferred"),
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

ACTION_LABELS = {
    Action.ACKNOWLEDGE: _l("Acknowledge receipt"),
    Action.ACCEPT: _l("Accept for handling"),
    Action.DECLINE: _l("Do not accept"),
    Action.RESOLVE: _l("Resolve"),
    Action.CLOSE: _l("Close"),
    Action.REOPEN: _l("Reopen"),
    Action.TRANSFER: _l("Transfer"),
}
# On the information track (anonymous complaints and denunciations, Law on Denunciations
# Art. 25) accepting means verifying the information, declining means recording and filing it.
INFORMATION_ACTION_LABELS = {
    Action.ACCEPT: _l("Verify"),
    Action.DECLINE: _l("Record and file"),
}

STAGE_LABELS = {
    DeadlineStage.ACKNOWLEDGE: _l("Acknowledge by"),
    DeadlineStage.ACCEPT: _l("Accept by"),
    DeadlineStage.RESOLVE: _l("Resolve by"),
}

# What the audit trail's actions are called on a timeline and in the organisation's log.
EVENT_LABELS = {
    "organisation.created": _l("Organisation created"),
    "body.created": _l("Body added"),
    "account.created": _l("Account created"),
    "staff.login": _l("Logged in"),
    "staff.logout": _l("Logged out"),
    "case.submitted": _l("Report received"),
    "case.viewed": _l("Opened"),
    "attachment.downloaded": _l("File downloaded"),
    "case.reporter_message": _l("The reporter wrote"),
    "case.replied": _l("Reply sent"),
    "case.question_asked": _l("Question asked"),
    "case.note_added": _l("Internal note added"),
    "case.acknowledge": _l("Acknowledged"),
    "case.accept": _l("Accepted for handling"),
    "case.decline": _l("Not accepted"),
    "case.resolve": _l("Resolved"),
    "case.close": _l("Closed"),
    "case.reopen": _l("Reopened"),
    "case.assigned": _l("Assigned"),
    "case.deadline_extended": _l("Deadline extended"),
    "case.transferred": _l("Transferred"),
    "case.recused": _l("Stepped aside"),
    "case.identity_granted": _l("Identity shown to a handler"),
    "case.rated": _l("Outcome rated"),
    "case.retaliation_flagged": _l("Retaliation flagged"),
    "publication.drafted": _l("Public summary drafted"),
    "publication.approved": _l("Public summary approved"),
    "publication.withdrawn": _l("Public summary withdrawn"),
}

ROLE_LABELS = {
    "reporter": _l("Reporter"),
    "system": _l("System"),
}


def _names(labels: dict) -> dict[str, str]:
    """Labels translated once, for a template that shows them in every row of a table."""
    return {key: str(label) for key, label in labels.items()}


def action_label(action: Action, case) -> str:
    if case.is_information_track and action in INFORMATION_ACTION_LABELS:
        return INFORMATION_ACTION_LABELS[action]
    return ACTION_LABELS[action]


def register_template_helpers(app: Flask) -> None:
    # Reads only plain values the request already loaded: rendering (pages or mail) never
    # queries, so an error page renders even when the database is gone.
    @app.context_processor
    def _globals():
        masthead: Masthead | None = g.get("masthead")
        return {
            "locale": str(get_locale()),
            "is_demo": bool(masthead and masthead.is_demo),
            "organisation_name": masthead.name if masthead else None,
            "kind_label": lambda kind: KIND_LABELS.get(kind, kind),
            "kind_names": lambda: _names(KIND_LABELS),
            "status_names": lambda: _names(STATUS_LABELS),
            "status_label": lambda status: STATUS_LABELS.get(status, status),
            "track_label": lambda track: TRACK_LABELS.get(track, track),
            "action_label": action_label,
            "stage_label": lambda stage: STAGE_LABELS.get(stage, stage),
            "event_label": lambda action: EVENT_LABELS.get(action, action),
            "role_label": lambda role: ROLE_LABELS.get(role, role),
            "high_priority": Priority.HIGH,
            "today": local_today(),
        }

    app.jinja_env.filters["day"] = _day
    app.jinja_env.filters["moment"] = _moment
    app.jinja_env.filters["filesize"] = _filesize


def _day(value: dt.date | None) -> str:
    # Babel's format_date(value, "dd/MM/yyyy") gives the same in every locale, far slower.
    return value.strftime("%d/%m/%Y") if value else ""


def _moment(value: dt.datetime | None) -> str:
    return format_datetime(value, "HH:mm dd/MM/yyyy") if value else ""


def _filesize(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
