"""Reading the audit trail: a case's timeline, and the organisation's log.

Both show what the trail holds — actions, who (a staff member's name, or only "reporter"),
when (the day alone for a reporter), non-content details — and nothing of what anyone wrote,
because the trail holds none of it. The organisation's log singles out a case only for a viewer
who holds its key: for anyone else (a handler the reporter excluded, an administrator) the case
is neither named nor linked and its reference is left out of the details.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.cases.casework import handler_case
from service.models import Account, AuditEvent, Case, CaseKeyWrap, KeyPurpose, Role
from service.platform.errors import AccessDenied

LOG_PER_PAGE = 50
# Reading leaves a trace every time; on a case's timeline a run of them is one line.
_REPEATED = frozenset({"case.viewed", "attachment.downloaded"})
# Details that name a case: kept only for a viewer who may open it.
_IDENTIFYING = frozenset({"reference"})
# Details that are account ids: shown with the account's name.
_ACCOUNT_KEYS = ("assignee", "account")


@dataclass(frozen=True)
class LogEntry:
    seq: int
    occurred_on: dt.date
    occurred_at: dt.datetime | None  # None for a reporter's action: the day only
    actor_role: str
    actor_name: str | None  # a staff member's name; None for the reporter and the system
    action: str
    details: dict[str, Any] = field(default_factory=dict)
    case_id: str | None = None  # only where the viewer may open the case
    case_reference: str | None = None
    repeated: int = 1


def _names(db: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(
        db.execute(select(Account.id, Account.display_name).where(Account.id.in_(ids))).all()
    )


def _entries(
    db: Session, events: list[AuditEvent], readable: dict[str, str] | None
) -> list[LogEntry]:
    """Log entries for events; `readable` maps the case ids the viewer may open to their
    references (None: every case is the viewer's, as on a case's own timeline)."""
    details = [json.loads(event.details or "{}") for event in events]
    ids = {event.actor_id for event in events if event.actor_id is not None}
    for detail in details:
        ids.update(v for k in _ACCOUNT_KEYS if isinstance(v := detail.get(k), int))
    names = _names(db, ids)
    entries = []
    for event, detail in zip(events, details, strict=True):
        for key in _ACCOUNT_KEYS:
            if isinstance(detail.get(key), int):
                detail[key] = names.get(detail[key], detail[key])
        visible = readable is None or event.case_id in readable
        if not visible:
            detail = {k: v for k, v in detail.items() if k not in _IDENTIFYING}
        entries.append(
            LogEntry(
                seq=event.seq,
                occurred_on=event.occurred_on,
                occurred_at=event.occurred_at,
                actor_role=event.actor_role,
                actor_name=names.get(event.actor_id) if event.actor_id else None,
                action=event.action,
                details=detail,
                case_id=event.case_id if visible else None,
                case_reference=(
                    readable.get(event.case_id) if readable and visible and event.case_id else None
                ),
            )
        )
    return entries


def case_timeline(db: Session, account: Account, case_id: str) -> list[LogEntry]:
    """Everything that happened to a case, oldest first, for a handler holding its key."""
    case = handler_case(db, account, case_id)
    events = list(
        db.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.seq))
    )
    timeline: list[LogEntry] = []
    for entry in _entries(db, events, None):
        last = timeline[-1] if timeline else None
        if (
            last is not None
            and entry.action in _REPEATED
            and (last.action, last.actor_name, last.actor_role)
            == (entry.action, entry.actor_name, entry.actor_role)
        ):
            timeline[-1] = replace(entry, repeated=last.repeated + 1)
        else:
            timeline.append(entry)
    return timeline


@dataclass(frozen=True)
class LogPage:
    entries: list[LogEntry]
    page: int
    has_next: bool


LOG_VIEWERS = (Role.CHAIR, Role.ADMIN)


def organisation_log(
    db: Session,
    viewer: Account,
    *,
    action: str | None = None,
    page: int = 1,
    per_page: int = LOG_PER_PAGE,
) -> LogPage:
    """The organisation's audit log, newest first, optionally of one action, for chairs and
    administrators (service/web/admin can reuse it). Content-free, as the trail is."""
    if viewer.role not in LOG_VIEWERS or not viewer.active:
        raise AccessDenied()
    page = max(page, 1)
    query = select(AuditEvent).where(AuditEvent.organisation_id == viewer.organisation_id)
    if action:
        query = query.where(AuditEvent.action == action)
    events = list(
        db.scalars(
            query.order_by(AuditEvent.seq.desc()).offset((page - 1) * per_page).limit(per_page + 1)
        )
    )
    shown = events[:per_page]
    case_ids = {event.case_id for event in shown if event.case_id}
    readable: dict[str, str] = {}
    if case_ids:
        readable = dict(
            db.execute(
                select(Case.id, Case.reference)
                .join(CaseKeyWrap, CaseKeyWrap.case_id == Case.id)
                .where(
                    Case.id.in_(case_ids),
                    CaseKeyWrap.account_id == viewer.id,
                    CaseKeyWrap.purpose == KeyPurpose.CASE,
                )
            ).all()
        )
    return LogPage(_entries(db, shown, readable), page, len(events) > per_page)
