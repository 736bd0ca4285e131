"""Who may read a case, computed once (cases/readers.py) for intake, custody, handover,
casework and the case page."""

from __future__ import annotations

import datetime as dt

from service.cases.custody import transfer_case
from service.cases.intake import Submission, submit_case
from service.cases.readers import body_readers, case_readers
from service.models import Account, CaseKind

NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)


def _ids(accounts) -> set[int]:
    return {account.id for account in accounts}


def test_a_bodys_readers_are_its_active_handlers_and_chairs_minus_the_excluded(db, world):
    chair, handler = world["cd_chair"].account, world["cd_handler"].account
    assert _ids(body_readers(db, world.cd.id)) == {chair.id, handler.id}
    assert _ids(body_readers(db, world.cd.id, frozenset({handler.id}))) == {chair.id}
    db.get(Account, handler.id).active = False
    db.flush()
    assert _ids(body_readers(db, world.cd.id)) == {chair.id}


def test_a_cases_readers_are_the_members_of_its_body_holding_its_key(db, world):
    excluded = world["cd_handler"].account.id
    submission = Submission(
        kind=CaseKind.PROBLEM,
        title="t",
        text="x",
        body_id=world.cd.id,
        excluded_account_ids=frozenset({excluded}),
    )
    case = submit_case(db, world.organisation, submission, now=NOW).case
    chair = world["cd_chair"]
    assert _ids(case_readers(db, case)) == {chair.account.id}  # intake honoured the exclusion
    assert _ids(case_readers(db, case, chairs_only=True)) == {chair.account.id}
    transfer_case(
        db,
        chair.principal(),
        case.id,
        to_body_id=world.ttnd.id,
        keep_access=True,
        reason="x",
        now=NOW,
    )
    # The chair kept read access, but is no longer a reader of a case of another body.
    ttnd = {world["ttnd_chair"].account.id, world["ttnd_handler"].account.id}
    assert _ids(case_readers(db, case)) == ttnd
    assert _ids(case_readers(db, case, chairs_only=True)) == {world["ttnd_chair"].account.id}
