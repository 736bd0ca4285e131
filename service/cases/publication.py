"""Publication (công khai) of the results of handling (Law on Grassroots Democracy, Arts. 46–48).

Once a case is resolved, a handler of its body drafts a public summary that identifies nobody.
The draft is sealed under the case's STAFF key, like an internal note. The chair reads it and
approves it: only then is its text written to `publication.public_text` in plaintext — the one
deliberate exception to "nothing a person wrote is stored in plaintext", because approving it
publishes it to every member of the unit on /results (no login). It stays there at least
PUBLICATION_DAYS days from approval; after that the chair may withdraw it. Every step is audited
(without the text).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.trail import Actor, record_event
from service.cases.casework import acting_case
from service.cases.lifecycle import Outcome, RoleNotPermitted, TransitionRefused, lock_case
from service.models import Account, Body, Case, CaseStatus, Publication, PublicationStatus, Role
from service.people.principal import Principal
from service.platform.clock import local_today, utcnow
from service.platform.errors import DomainError, InvalidSubmission, KeyUnavailable, NotFound
from service.rules.calendar import add_working_days
from service.sealing import keyring
from service.sealing.casefiles import open_text, seal_text

P = PublicationStatus
PUBLISHABLE = frozenset({CaseStatus.RESOLVED, CaseStatus.CLOSED})
# The results of handling are published within 5 working days (Law on Grassroots Democracy).
PUBLISH_WITHIN_WORKING_DAYS = 5


class NotYetPublishable(DomainError):
    status_code = 409
    default_message = _l("A public summary can be written once the case has been resolved.")


class DraftChanged(DomainError):
    status_code = 409
    default_message = _l(
        "The draft was changed after you opened the page. Read the new draft, then approve it."
    )


class StillRequired(DomainError):
    status_code = 409

    def __init__(self, until: dt.date, days: int) -> None:
        super().__init__(
            _l(
                "The law requires it to stay published for %(days)d days: it can be withdrawn "
                "from %(date)s.",
                days=days,
                date=until.strftime("%d/%m/%Y"),
            )
        )


@dataclass(frozen=True)
class PublicationView:
    """A publication as the handlers of its case see it: the draft opened with the STAFF key."""

    publication: Publication
    text: str
    withdrawable: bool = False  # approved, and its legal period is over: the chair may take it down

    @property
    def is_draft(self) -> bool:
        return self.publication.status == P.DRAFT


def may_withdraw(publication: Publication, today: dt.date) -> bool:
    """Published, and the period the law requires it to stay up is over."""
    return publication.status == P.APPROVED and (
        publication.public_until is None or today >= publication.public_until
    )


def _field(publication: Publication) -> str:
    return f"publication.{publication.id}"


def publish_by(case: Case) -> dt.date | None:
    """The day by which the result should be public (5 working days after the decision)."""
    if case.status not in PUBLISHABLE or case.decided_on is None:
        return None
    return add_working_days(case.decided_on, PUBLISH_WITHIN_WORKING_DAYS)


def case_publications(
    db: Session, case: Case, keys: keyring.CaseKeys, today: dt.date
) -> list[PublicationView]:
    """The case's drafts and publications, for the handlers of the case (STAFF key)."""
    rows = db.scalars(
        select(Publication).where(Publication.case_id == case.id).order_by(Publication.id)
    )
    if keys.staff is None:
        return []
    return [
        PublicationView(
            row,
            open_text(keys.staff, case.id, _field(row), row.draft_ct),
            withdrawable=may_withdraw(row, today),
        )
        for row in rows
    ]


def _event(db: Session, account: Account, case: Case, action: str, now, **details) -> None:
    record_event(
        db,
        organisation_id=case.organisation_id,
        action=action,
        actor=Actor.staff(account),
        case_id=case.id,
        details=details,
        now=now,
    )


def draft_publication(
    db: Session,
    principal: Principal,
    case_id: str,
    *,
    text: str,
    now: dt.datetime | None = None,
) -> Publication:
    """Write (or rewrite) the case's draft public summary, sealed under the STAFF key."""
    now = now or utcnow()
    account = principal.account
    if not text.strip():
        raise InvalidSubmission()
    case = lock_case(db, acting_case(db, account, case_id))
    if case.status not in PUBLISHABLE:
        raise NotYetPublishable()
    keys = keyring.open_case_keys_for_account(db, case, account, principal.private_key)
    if keys.staff is None:
        raise KeyUnavailable()
    draft = db.scalar(
        select(Publication).where(Publication.case_id == case.id, Publication.status == P.DRAFT)
    )
    if draft is None:
        draft = Publication(
            organisation_id=case.organisation_id,
            case_id=case.id,
            body_id=case.body_id,
            status=P.DRAFT,
            revision=1,
            draft_ct=b"",
            drafted_by=account.id,
            drafted_on=local_today(now),
        )
        db.add(draft)
        db.flush()  # the id is part of the associated data
    else:
        draft.revision += 1
        draft.drafted_by, draft.drafted_on = account.id, local_today(now)
    draft.draft_ct = seal_text(keys.staff, case.id, _field(draft), text)
    _event(
        db, account, case, "publication.drafted", now, publication=draft.id, revision=draft.revision
    )
    db.flush()
    return draft


def _chairs_publication(
    db: Session, chair: Account, case_id: str, publication_id: int
) -> tuple[Case, Publication]:
    if chair.role != Role.CHAIR:
        raise RoleNotPermitted()
    case = lock_case(db, acting_case(db, chair, case_id))
    publication = db.get(Publication, publication_id)
    if publication is None or publication.case_id != case.id:
        raise NotFound()
    return case, publication


def approve_publication(
    db: Session,
    principal: Principal,
    case_id: str,
    *,
    publication_id: int,
    revision: int,
    publication_days: int,
    now: dt.datetime | None = None,
) -> Outcome:
    """The chair approves the draft they read (`revision`): its text becomes public for
    `publication_days` (PUBLICATION_DAYS) at least."""
    now = now or utcnow()
    chair = principal.account
    case, publication = _chairs_publication(db, chair, case_id, publication_id)
    if publication.status == P.APPROVED:
        return Outcome(case, False)
    if publication.status != P.DRAFT:
        raise TransitionRefused()
    if publication.revision != revision:
        raise DraftChanged()
    keys = keyring.open_case_keys_for_account(db, case, chair, principal.private_key)
    if keys.staff is None:
        raise KeyUnavailable()
    today = local_today(now)
    # The deliberate plaintext: approved for publication to everyone (see the docstring).
    publication.public_text = open_text(
        keys.staff, case.id, _field(publication), publication.draft_ct
    )
    publication.status = P.APPROVED
    publication.approved_by, publication.approved_on = chair.id, today
    publication.public_until = today + dt.timedelta(days=publication_days)
    _event(
        db,
        chair,
        case,
        "publication.approved",
        now,
        publication=publication.id,
        revision=publication.revision,
        until=publication.public_until.isoformat(),
    )
    return Outcome(case, True)


def withdraw_publication(
    db: Session,
    chair: Account,
    case_id: str,
    *,
    publication_id: int,
    publication_days: int,
    now: dt.datetime | None = None,
) -> Outcome:
    """The chair takes a publication down, once the legal period is over (`publication_days` is
    only quoted in the refusal: the period itself was fixed on approval)."""
    now = now or utcnow()
    case, publication = _chairs_publication(db, chair, case_id, publication_id)
    if publication.status == P.WITHDRAWN:
        return Outcome(case, False)
    if publication.status != P.APPROVED:
        raise TransitionRefused()
    today = local_today(now)
    if not may_withdraw(publication, today):
        until = publication.public_until
        assert until is not None  # approved without an end date is always withdrawable
        raise StillRequired(until, publication_days)
    publication.status = P.WITHDRAWN
    publication.withdrawn_by, publication.withdrawn_on = chair.id, today
    _event(db, chair, case, "publication.withdrawn", now, publication=publication.id)
    return Outcome(case, True)


@dataclass(frozen=True)
class PublishedResult:
    reference: str
    body_name_vi: str
    body_name_en: str
    approved_on: dt.date
    text: str

    def body_name(self, locale: str) -> str:
        return self.body_name_en if locale == "en" else self.body_name_vi


RESULTS_PER_PAGE = 20


def published_results(
    db: Session, organisation_id: int, page: int = 1
) -> tuple[list[PublishedResult], bool]:
    """The organisation's approved publications, newest first, and whether more follow."""
    page = max(page, 1)
    rows = db.execute(
        select(
            Case.reference,
            Body.name_vi,
            Body.name_en,
            Publication.approved_on,
            Publication.public_text,
        )
        .join(Case, Case.id == Publication.case_id)
        .join(Body, Body.id == Publication.body_id)
        .where(
            Publication.organisation_id == organisation_id,
            Publication.status == P.APPROVED,
        )
        .order_by(Publication.approved_on.desc(), Publication.id.desc())
        .offset((page - 1) * RESULTS_PER_PAGE)
        .limit(RESULTS_PER_PAGE + 1)
    ).all()
    # An approved publication always has its approval day and public text (not NULL here).
    results = [PublishedResult(*row) for row in rows[:RESULTS_PER_PAGE]]  # type: ignore[arg-type]
    return results, len(rows) > RESULTS_PER_PAGE
