"""The audit trail is a hash chain: any edit, deletion, insertion or reordering is caught."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from service.audit.trail import Actor, record_event, verify_chain
from service.models import AuditEvent, AuditHead

T0 = dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def chain(db, world):
    """Five more events after the world's own (organisation and accounts created)."""
    org = world.organisation.id
    for i in range(5):
        actor = Actor.reporter() if i % 2 else Actor.staff(world["cd_chair"].account)
        record_event(
            db,
            organisation_id=org,
            action=f"test.step{i}",
            actor=actor,
            case_id="ab" * 16,
            details={"n": i, "note": "không có nội dung"},
            now=T0 + dt.timedelta(minutes=i),
        )
    db.commit()
    return org


@pytest.fixture
def tamper(db, backend):
    """Start a transaction as a database superuser who first switched the append-only trigger
    off (on PostgreSQL, `session_replication_role = replica` skips triggers): the hash chain
    must catch what such a person does."""

    def begin() -> None:
        if backend == "postgresql":
            db.execute(text("SET LOCAL session_replication_role = replica"))

    return begin


def seqs(db, org):
    return db.scalars(
        select(AuditEvent.seq).where(AuditEvent.organisation_id == org).order_by(AuditEvent.seq)
    ).all()


def test_an_untouched_chain_verifies(db, chain):
    report = verify_chain(db, chain)
    assert report.ok and report.events == len(seqs(db, chain)) == 10
    assert report.head_hash == db.get(AuditHead, chain).hash


def test_sequence_numbers_have_no_gaps(db, chain):
    assert seqs(db, chain) == list(range(1, 11))


def test_reporter_events_carry_the_day_only(db, chain):
    rows = db.scalars(select(AuditEvent).where(AuditEvent.action.like("test.%"))).all()
    for row in rows:
        if row.actor_role == "reporter":
            assert row.occurred_at is None and row.actor_id is None
        else:
            assert row.occurred_at is not None
        assert row.occurred_on == dt.date(2026, 11, 27)


def test_an_edited_row_is_named(db, chain, tamper):
    tamper()
    db.execute(update(AuditEvent).where(AuditEvent.seq == 7).values(details='{"n":99}'))
    db.commit()
    report = verify_chain(db, chain)
    assert (report.ok, report.broken_seq, report.problem) == (False, 7, "altered")


def test_an_edited_row_with_a_recomputed_hash_breaks_the_next_link(db, chain, tamper):
    tamper()
    row = db.scalars(select(AuditEvent).where(AuditEvent.seq == 7)).one()
    db.execute(update(AuditEvent).where(AuditEvent.seq == 7).values(hash="f" * 64))
    db.commit()
    assert verify_chain(db, chain).broken_seq == row.seq


def test_a_deleted_row_is_named(db, chain, tamper):
    tamper()
    db.execute(delete(AuditEvent).where(AuditEvent.seq == 4))
    db.commit()
    report = verify_chain(db, chain)
    assert (report.broken_seq, report.problem) == (4, "missing")


def test_deleting_the_last_rows_is_caught_by_the_head(db, chain, tamper):
    tamper()
    db.execute(delete(AuditEvent).where(AuditEvent.seq >= 9))
    db.commit()
    report = verify_chain(db, chain)
    assert (report.broken_seq, report.problem) == (9, "missing at the end")


def test_an_inserted_row_is_caught(db, chain, tamper):
    tamper()
    db.execute(update(AuditEvent).where(AuditEvent.seq >= 6).values(seq=AuditEvent.seq + 100))
    db.execute(update(AuditEvent).where(AuditEvent.seq >= 106).values(seq=AuditEvent.seq - 99))
    forged = db.scalars(select(AuditEvent).where(AuditEvent.seq == 5)).one()
    db.add(
        AuditEvent(
            organisation_id=chain,
            seq=6,
            occurred_on=forged.occurred_on,
            occurred_at=None,
            actor_role="reporter",
            actor_id=None,
            case_id=None,
            action="forged",
            details="{}",
            hash=forged.hash,
        )
    )
    db.commit()
    assert verify_chain(db, chain).broken_seq == 6


def test_swapped_rows_are_caught(db, chain, tamper):
    tamper()
    db.execute(update(AuditEvent).where(AuditEvent.seq == 5).values(seq=-5))
    db.execute(update(AuditEvent).where(AuditEvent.seq == 6).values(seq=5))
    db.execute(update(AuditEvent).where(AuditEvent.seq == -5).values(seq=6))
    db.commit()
    assert verify_chain(db, chain).broken_seq == 5


def test_the_cli_exits_zero_for_a_whole_chain_and_one_naming_the_break(app, db, chain, tamper):
    runner = app.test_cli_runner()
    whole = runner.invoke(args=["audit", "verify"])
    assert whole.exit_code == 0, whole.output
    assert "10 events" in whole.output
    tamper()
    db.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(action="edited"))
    db.commit()
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    assert "#3" in broken.output and "altered" in broken.output


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET action = 'edited' WHERE seq = 3",
        "DELETE FROM audit_event WHERE seq = 3",
        "TRUNCATE audit_event",
    ],
)
def test_postgresql_refuses_to_change_the_audit_trail_at_all(db, chain, backend, statement):
    if backend != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL only (DESIGN.md)")
    with pytest.raises(DBAPIError, match="append-only"):
        db.execute(text(statement))
    db.rollback()
    assert verify_chain(db, chain).ok and len(seqs(db, chain)) == 10


def test_appending_is_still_allowed_under_the_trigger(db, chain):
    record_event(db, organisation_id=chain, action="test.more", actor=Actor.system())
    db.commit()
    assert verify_chain(db, chain).events == 11


ODD_DETAILS: list[dict[str, Any]] = [
    {"note": 'dấu "ngoặc" \\ gạch chéo, tab\t, dòng\nmới, \u2028 và emoji 🙂'},
    {},
    {"n": 1, "list": [1, "a"], "none": None},
]


def test_the_fast_walk_writes_the_same_document_the_append_wrote(db, world):
    """verify_chain formats each row itself (for speed): byte for byte the canonical JSON."""
    from service.audit.trail import _row_document, _stored_rows, exact_document

    org = world.organisation.id
    for i, details in enumerate(ODD_DETAILS):
        record_event(
            db,
            organisation_id=org,
            action="test.odd",
            actor=Actor.reporter() if i % 2 else Actor.staff(world["cd_chair"].account),
            case_id=None if i else "ab" * 16,
            details=details,
            now=T0,
        )
    # A time with microseconds, as another writer (or an older version) might have stored it.
    seq = db.get(AuditHead, org).seq + 1
    head = db.get(AuditHead, org)
    fields = {
        "organisation_id": org,
        "seq": seq,
        "occurred_on": T0.date(),
        "occurred_at": T0.replace(microsecond=120_000),
        "actor_role": "system",
        "actor_id": None,
        "case_id": None,
        "action": "test.micro",
        "details": "{}",
    }
    from service.audit.trail import chain_hash

    event = AuditEvent(**fields, hash=chain_hash(head.hash, _row_document(**fields)))
    head.seq, head.hash = seq, event.hash
    db.add(event)
    db.commit()

    stored = {row[0]: row for row in _stored_rows(db, org)}
    for event in db.scalars(select(AuditEvent).where(AuditEvent.organisation_id == org)):
        expected = _row_document(
            organisation_id=org,
            seq=event.seq,
            occurred_on=event.occurred_on,
            occurred_at=event.occurred_at,
            actor_role=event.actor_role,
            actor_id=event.actor_id,
            case_id=event.case_id,
            action=event.action,
            details=event.details,
        )
        assert exact_document(org, stored[event.seq]) == expected, event.action
    assert verify_chain(db, org).ok


def test_a_time_moved_by_a_microsecond_is_caught(db, chain, tamper):
    tamper()
    row = db.scalars(select(AuditEvent).where(AuditEvent.seq == 6)).one()
    db.execute(
        update(AuditEvent)
        .where(AuditEvent.seq == 6)
        .values(occurred_at=row.occurred_at + dt.timedelta(microseconds=1))
    )
    db.commit()
    report = verify_chain(db, chain)
    assert (report.broken_seq, report.problem) == (6, "altered")


def test_a_long_chain_is_checked_in_stretches_with_the_same_verdict(db, chain, tamper, monkeypatch):
    """A long chain is checked by several processes at once (one stretch each): the verdict,
    and the row it names, are those of the single walk."""
    import service.audit.trail as audit

    monkeypatch.setattr(audit, "IN_STRETCHES_FROM", 1)
    for stretches in (2, 3):
        assert audit._whole_in_stretches(db, chain, db.get(AuditHead, chain), stretches)
    assert verify_chain(db, chain, processes=3) == verify_chain(db, chain, processes=1)
    db.commit()
    tamper()
    db.execute(update(AuditEvent).where(AuditEvent.seq == 8).values(details='{"n":"x"}'))
    db.commit()
    assert not audit._whole_in_stretches(db, chain, db.get(AuditHead, chain), 3)
    in_stretches = verify_chain(db, chain, processes=3)
    assert (in_stretches.broken_seq, in_stretches.problem) == (8, "altered")
    assert in_stretches == verify_chain(db, chain, processes=1)
