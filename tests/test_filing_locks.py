"""A filing locks its body's reference counter and the audit head only at its very end.

Every filing to a body takes the next number from one counter row, and every change in an
organisation appends to one audit head row; on PostgreSQL each is locked from its write to the
commit. Written last, after the files are sealed and stored and the receipt is derived, they
are held for milliseconds, so a large upload no longer makes other filings to its body wait.
(SQLite takes its one writer lock at BEGIN IMMEDIATE: its writers take turns anyway.)
"""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlalchemy import select

from service.cases import intake
from service.models import Attachment, Case
from tests.conftest import World, domain_session
from tests.flows import file_report

HOLD_LIMIT = 30.0  # seconds: only a broken test waits this long
SMALL_FILING_LIMIT = 10.0  # seconds: a small filing takes well under one


def _cd_cases(app: Flask, world: World) -> dict[str, bool]:
    """Reference → whether the case has an attachment, for every case of the body CD."""
    with domain_session(app) as db:
        rows = db.execute(
            select(Case.reference, Attachment.id)
            .outerjoin(Attachment, Attachment.case_id == Case.id)
            .where(Case.body_id == world.cd.id)
        )
        return {reference: attachment is not None for reference, attachment in rows}


def _number(reference: str) -> int:
    return int(reference.rsplit("-", 1)[1])


def test_a_filing_storing_a_large_file_does_not_hold_up_other_filings_to_its_body(
    app: Flask, world: World, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite serialises every write transaction at BEGIN IMMEDIATE")
    stored, release = threading.Event(), threading.Event()
    real_store = intake.store_attachment

    def store_then_hold(*args, **kwargs):  # the large filing, between its file and its end
        attachment = real_store(*args, **kwargs)
        stored.set()
        release.wait(HOLD_LIMIT)
        return attachment

    monkeypatch.setattr(intake, "store_attachment", store_then_hold)
    before = _cd_cases(app, world)
    statuses: dict[str, int] = {}

    def file(name: str, files: list[tuple[str, bytes]]) -> None:
        response, receipt = file_report(app.test_client(), body=str(world.cd.id), files=files)
        statuses[name] = response.status_code if receipt else -response.status_code

    large = threading.Thread(target=file, args=("large", [("big.bin", b"\x01" * 300_000)]))
    small = threading.Thread(target=file, args=("small", []))
    large.start()
    try:
        assert stored.wait(HOLD_LIMIT), "the large filing never stored its file"
        small.start()
        small.join(SMALL_FILING_LIMIT)
        small_done_while_held = not small.is_alive()
        large_still_held = large.is_alive()
    finally:
        release.set()
        large.join(HOLD_LIMIT)
        if small.ident is not None:
            small.join(HOLD_LIMIT)
    assert large_still_held
    assert small_done_while_held, "the small filing waited for the large one's locks"
    assert statuses == {"small": 200, "large": 200}
    new = {ref: has_file for ref, has_file in _cd_cases(app, world).items() if ref not in before}
    assert len(new) == 2
    (small_ref,) = [ref for ref, has_file in new.items() if not has_file]
    (large_ref,) = [ref for ref, has_file in new.items() if has_file]
    # The large filing took its number after the small one had committed: no gap, no clash.
    assert _number(large_ref) == _number(small_ref) + 1
    assert max(map(_number, before), default=0) + 1 == _number(small_ref)
