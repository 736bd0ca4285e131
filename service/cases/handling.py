"""The case page of the board: everything a handler needs to act on one case, in one call.

`case_page` decrypts the case for the reader (recording that they read it) and adds what the
page offers: the transitions their role may apply now, the deadlines with their legal basis,
the extensions left, who may be assigned or shown the identity, where it may be transferred,
the publication drafts and the case's audit timeline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from service.cases.casework import CaseView, read_case
from service.cases.custody import identity_candidates, transfer_targets
from service.cases.lifecycle import Action, allowed_actions
from service.cases.publication import PublicationView, case_publications, publish_by
from service.cases.readers import case_readers
from service.cases.timeline import LogEntry, case_timeline
from service.models import Account, Body, Case, DeadlineStage, Role
from service.people.principal import Principal
from service.platform.clock import local_today, utcnow
from service.rules.policy import extension_rule, is_due_soon, is_overdue, rules_for


@dataclass(frozen=True)
class Deadline:
    stage: str
    due: dt.date
    legal_basis: str
    current: bool  # the deadline the case waits on now


@dataclass(frozen=True)
class CasePage:
    view: CaseView
    read_only: bool  # transferred to another body; the reader kept read access
    actions: list[Action]
    deadlines: list[Deadline]
    overdue: bool
    due_soon: bool
    extensions_left: int | None  # None: this deadline cannot be extended
    assignable: list[Account] = field(default_factory=list)
    identity_candidates: list[Account] = field(default_factory=list)
    transfer_targets: list[Body] = field(default_factory=list)
    publications: list[PublicationView] = field(default_factory=list)
    publish_by: dt.date | None = None
    timeline: list[LogEntry] = field(default_factory=list)

    @property
    def case(self) -> Case:
        return self.view.case


def _deadlines(db: Session, case: Case) -> list[Deadline]:
    rules = rules_for(db, case.organisation_id, case.kind)
    deadlines = []
    for stage, due in (
        (DeadlineStage.ACKNOWLEDGE, case.acknowledge_due),
        (DeadlineStage.ACCEPT, case.accept_due),
        (DeadlineStage.RESOLVE, case.resolve_due),
    ):
        if due is None:
            continue
        rule = rules.get(stage)
        deadlines.append(
            Deadline(
                stage=stage,
                due=due,
                legal_basis=rule.legal_basis if rule else "",
                current=due == case.next_due,
            )
        )
    return deadlines


def case_page(
    db: Session, principal: Principal, case_id: str, *, now: dt.datetime | None = None
) -> CasePage:
    """The case as `principal` sees it, with what they may do to it now.

    One transaction with its "case.viewed" event (the request's); the keys are unwrapped once.
    """
    now = now or utcnow()
    today = local_today(now)
    account = principal.account
    view, keys = read_case(db, principal, case_id, now=now)
    case = view.case
    read_only = case.body_id != account.body_id
    timeline = case_timeline(db, account, case.id)
    if read_only:
        return CasePage(view, True, [], _deadlines(db, case), False, False, None, timeline=timeline)
    rule = extension_rule(db, case)
    extensions_left = None
    if rule is not None and case.resolve_due is not None and rule.extension_days > 0:
        extensions_left = max(rule.max_extensions - case.extensions, 0)
    is_chair = account.role == Role.CHAIR
    return CasePage(
        view=view,
        read_only=False,
        actions=allowed_actions(case, account.role),
        deadlines=_deadlines(db, case),
        overdue=is_overdue(case, today),
        due_soon=is_due_soon(case, today),
        extensions_left=extensions_left,
        assignable=case_readers(db, case) if is_chair else [],
        identity_candidates=identity_candidates(db, case)
        if is_chair and case.identity_ct is not None
        else [],
        transfer_targets=transfer_targets(db, case),
        publications=case_publications(db, case, keys, today),
        publish_by=publish_by(case),
        timeline=timeline,
    )
