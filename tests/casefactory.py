"""Cases filed straight through the domain layer, for tests about who can open them."""

from __future__ import annotations

from collections.abc import Sequence

from service.cases.intake import Identity, Submission, submit_case
from service.models import Case, CaseKind
from service.sealing import keyring
from tests.test_intake import BytesUpload


def file_case(
    db,
    world,
    body=None,
    *,
    excluded=(),
    named: bool = False,
    title: str = "Máy lạnh hỏng",
    text: str = "Phòng họp số 2",
    files: Sequence[tuple[str, bytes]] = (),
    kind: CaseKind = CaseKind.PROBLEM,
    notify_email: str | None = None,
):
    """File a report to `body` (the Trade Union by default), committed as its request would be;
    returns the FiledCase."""
    submission = Submission(
        kind=kind,
        title=title,
        text=text,
        body_id=(body or world.cd).id,
        identity=Identity("Nguyễn Văn A", "Phòng Hành chính", "0900 000 000") if named else None,
        excluded_account_ids=frozenset(world[name].account.id for name in excluded),
        attachments=[BytesUpload(name, data) for name, data in files],
        notify_email=notify_email,
    )
    filed = submit_case(db, world.organisation, submission)
    db.commit()
    return filed


def keys_of(db, staff, case: Case) -> keyring.CaseKeys:
    """What `staff` can unwrap of `case` with their own private key (KeyUnavailable if none)."""
    return keyring.open_case_keys_for_account(
        db, db.get(Case, case.id), staff.account, staff.private_key()
    )
