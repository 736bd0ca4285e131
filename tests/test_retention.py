"""Retention: expired cases lose their content and keys for good; the numbers stay the same."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from service.cases import retention
from service.cases.casework import handler_case_view, reply_to_reporter
from service.cases.publication import draft_publication
from service.models import (
    Account,
    Attachment,
    AttachmentChunk,
    AuditEvent,
    Case,
    CaseKeyWrap,
    CaseStatus,
    Message,
    Publication,
    RetentionPeriod,
    Role,
)
from service.people.principal import Principal
from service.platform.clock import local_today
from service.platform.db import get_database
from service.platform.errors import NotFound
from tests.casefactory import file_case
from tests.conftest import add_staff, domain_session, get_csrf, log_in
from tests.test_sentinel import database_haystacks, file_haystacks, find_leaks

# What summaries and reports count, per body, kind, status and month: computed with SQL.
COUNTS = text(
    "SELECT body_id, kind, status, track, anonymous, received_on, acknowledged_on, decided_on,"
    " closed_on, category_id, (SELECT count(*) FROM case_message m WHERE m.case_id = c.id),"
    " (SELECT count(*) FROM attachment a WHERE a.case_id = c.id)"
    " FROM cases c ORDER BY reference"
)
SUMMARY = text("SELECT body_id, kind, status, count(*) FROM cases GROUP BY body_id, kind, status")


def _numbers(db) -> tuple[list, list]:
    return (
        [tuple(row) for row in db.execute(COUNTS)],
        sorted(tuple(row) for row in db.execute(SUMMARY)),
    )


def _close(db, case_id: str, on: dt.date, status=CaseStatus.CLOSED) -> None:
    case = db.get(Case, case_id)
    case.status = status
    case.decided_on = on
    case.closed_on = on if status == CaseStatus.CLOSED else None
    db.commit()


@pytest.fixture
def cases(app, db, world):
    """Old closed, old not accepted, recently closed, old resolved and open cases."""
    today = local_today()
    long_ago = today - dt.timedelta(days=6 * 366)
    made = {}
    for name, status, on in (
        ("old closed", CaseStatus.CLOSED, long_ago),
        ("old not accepted", CaseStatus.NOT_ACCEPTED, long_ago),
        ("recently closed", CaseStatus.CLOSED, today - dt.timedelta(days=30)),
        ("old resolved", CaseStatus.RESOLVED, long_ago),
        ("open", None, None),
    ):
        filed = file_case(
            db,
            world,
            named=True,
            title=f"Tiêu đề {name} SENTINEL",
            files=[("tệp.pdf", f"PDF-SENTINEL-{name}".encode() * 200)],
            notify_email="nguoi.gui.7q@example.test",
        )
        handler = world["cd_handler"]
        reply_to_reporter(
            db,
            Principal(db.get(Account, handler.account.id), handler.private_key()),
            filed.case.id,
            text=f"Trả lời {name}",
        )
        if status is not None:
            assert on is not None
            _close(db, filed.case.id, on, status)
        if status in (CaseStatus.CLOSED, CaseStatus.RESOLVED):
            draft_publication(
                db,
                Principal(db.get(Account, handler.account.id), handler.private_key()),
                filed.case.id,
                text=f"Dự thảo công khai {name}",
            )
        made[name] = filed.case.id
    db.commit()  # as the requests above would have
    return made


def _ciphertexts(db, case_id: str) -> dict[str, bytes]:
    """Distinctive slices of every stored ciphertext of a case (to search for afterwards)."""
    case = db.get(Case, case_id)
    found = {"title": case.title_ct, "text": case.text_ct, "identity": case.identity_ct}
    found["exclusions"] = case.exclusions_ct
    found["notify email"] = case.notify_email_ct
    for publication in db.scalars(select(Publication).where(Publication.case_id == case_id)):
        found[f"draft {publication.id}"] = publication.draft_ct
    for message in db.scalars(select(Message).where(Message.case_id == case_id)):
        found[f"message {message.id}"] = message.body_ct
    for attachment in db.scalars(select(Attachment).where(Attachment.case_id == case_id)):
        found[f"meta {attachment.id}"] = attachment.meta_ct
        for chunk in db.scalars(
            select(AttachmentChunk).where(AttachmentChunk.attachment_id == attachment.id)
        ):
            found[f"chunk {attachment.id}/{chunk.seq}"] = chunk.data
    for wrap in db.scalars(select(CaseKeyWrap).where(CaseKeyWrap.case_id == case_id)):
        found[f"wrap {wrap.recipient}/{wrap.purpose}"] = wrap.wrapped
    # 24 bytes from the middle of each: random ciphertext, found nowhere else by chance.
    return {k: v[len(v) // 2 - 12 : len(v) // 2 + 12] for k, v in found.items() if v}


def test_the_defaults_keep_closed_cases_five_years(db, world):
    periods = retention.periods(db, world.organisation.id)
    assert periods[CaseStatus.CLOSED] == 60
    assert retention.add_months(dt.date(2024, 2, 29), 60) == dt.date(2029, 2, 28)


def test_a_dry_run_lists_what_would_go_and_changes_nothing(app, db, world, cases):
    before = _numbers(db)
    db.rollback()
    result = app.test_cli_runner().invoke(args=["retention", "apply", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "2 cases would be destroyed" in result.output
    references = {db.get(Case, cases[n]).reference for n in ("old closed", "old not accepted")}
    assert all(reference in result.output for reference in references)
    assert db.get(Case, cases["recently closed"]).reference not in result.output
    db.expire_all()
    assert _numbers(db) == before
    assert all(c.shredded_on is None for c in db.scalars(select(Case)))


def test_apply_shreds_expired_cases_and_keeps_the_numbers(app, db, world, cases, backend):
    expired = [cases["old closed"], cases["old not accepted"]]
    kept = [cases["recently closed"], cases["old resolved"], cases["open"]]
    secrets_of = {case_id: _ciphertexts(db, case_id) for case_id in expired}
    kept_secrets = {case_id: _ciphertexts(db, case_id) for case_id in kept}
    before = _numbers(db)
    db.rollback()

    result = app.test_cli_runner().invoke(args=["retention", "apply"])
    assert result.exit_code == 0, result.output
    assert "2 cases destroyed" in result.output

    db.expire_all()
    assert _numbers(db) == before  # every count a summary or report makes is unchanged
    for case_id in expired:
        case = db.get(Case, case_id)
        assert case.shredded_on == local_today()
        assert (case.title_ct, case.text_ct, case.identity_ct, case.exclusions_ct) == (
            b"",
            b"",
            None,
            b"",
        )
        assert case.notify_email_ct is None
        assert not db.scalars(select(CaseKeyWrap).where(CaseKeyWrap.case_id == case_id)).all()
        events = db.scalars(
            select(AuditEvent).where(
                AuditEvent.case_id == case_id, AuditEvent.action == "case.shredded"
            )
        ).all()
        assert len(events) == 1 and "SENTINEL" not in events[0].details
        handler = world["cd_handler"]
        with pytest.raises(NotFound):
            handler_case_view(
                db, Principal(db.get(Account, handler.account.id), handler.private_key()), case_id
            )
    for case_id in kept:
        assert db.get(Case, case_id).shredded_on is None
    db.rollback()

    engine = get_database(app).engine
    needles = {f"{case_id[:6]} {k}": v for case_id, s in secrets_of.items() for k, v in s.items()}
    assert not find_leaks(database_haystacks(engine), needles)
    kept_needles = {f"{c[:6]} {k}": v for c, s in kept_secrets.items() for k, v in s.items()}
    assert len(find_leaks(database_haystacks(engine), kept_needles)) == len(kept_needles)
    if backend == "sqlite":
        # The file itself, with its write-ahead log: freed pages were zeroed (secure_delete).
        database_name = make_url(app.config["DATABASE_URL"]).database
        assert database_name is not None
        database = Path(database_name)
        files = file_haystacks(database.parent)
        assert not find_leaks(files, needles), find_leaks(files, needles)[:3]
        engine.dispose()
        assert not find_leaks(file_haystacks(database.parent), needles)

    again = app.test_cli_runner().invoke(args=["retention", "apply"])
    assert "0 cases destroyed" in again.output


def test_the_administrator_sets_the_periods(app, world):
    admin = add_staff(app, world, "admin", Role.ADMIN, None)
    client = log_in(app.test_client(), app, admin)
    page = client.get("/admin/retention")
    assert page.status_code == 200
    token = get_csrf(client, "/admin/retention")
    assert (
        client.post(
            "/admin/retention/resolved", data={"csrf_token": token, "resolved-years": "2"}
        ).status_code
        == 302
    )
    assert (
        client.post(
            "/admin/retention/closed", data={"csrf_token": token, "closed-years": "0"}
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/admin/retention/closed", data={"csrf_token": token, "closed-years": ""}
        ).status_code
        == 302
    )
    with domain_session(app) as db:
        stored = {row.status: row.months for row in db.scalars(select(RetentionPeriod))}
        assert stored[CaseStatus.RESOLVED] == 24 and stored[CaseStatus.CLOSED] is None
        assert db.scalars(
            select(AuditEvent).where(AuditEvent.action == "admin.retention_changed")
        ).all()
