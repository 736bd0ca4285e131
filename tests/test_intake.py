"""Filing a report: what is stored, who can open it, where it goes (domain layer, no HTTP)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from sqlalchemy import func, select

from service.cases.casework import (
    add_reporter_message,
    handler_case_view,
    open_case_with_receipt,
    reply_to_reporter,
    reporter_case_view,
)
from service.cases.intake import Identity, Submission, submit_case
from service.models import (
    Attachment,
    AuditEvent,
    Case,
    CaseKeyWrap,
    CaseKind,
    OutboxMessage,
    Track,
)
from service.platform.errors import InvalidSubmission, KeyUnavailable, NotFound, ReceiptRejected
from service.sealing import SealingError, keyring, receipts, recovery
from service.sealing.casefiles import CHUNK_SIZE
from service.sealing.profiles import FAST

NOW = dt.datetime(2026, 11, 27, 3, 15, tzinfo=dt.UTC)  # 10:15 in Khánh Hòa


class BytesUpload:
    def __init__(self, name: str, data: bytes, content_type: str = "application/octet-stream"):
        self.filename, self.content_type, self._data = name, content_type, data

    def iter_chunks(self):
        stream = io.BytesIO(self._data)
        while chunk := stream.read(10_000):
            yield chunk


def file_report(db, world, **overrides):
    fields: dict[str, Any] = {
        "kind": CaseKind.PROBLEM,
        "title": "Máy lạnh hỏng",
        "text": "Phòng họp số 2",
    }
    fields.update(overrides)
    filed = submit_case(db, world.organisation, Submission(**fields), now=NOW)
    db.commit()  # as the filing's request would
    return filed


def keys_for(db, staff, case):
    return keyring.open_case_keys_for_account(db, case, staff.account, staff.private_key())


def test_what_the_reporter_wrote_is_stored_only_as_ciphertext(db, world):
    filed = file_report(db, world, title="Tiêu đề bí mật", text="Nội dung bí mật")
    case = db.get(Case, filed.case.id)
    for blob in (case.title_ct, case.text_ct):
        assert "bí mật".encode() not in blob
        assert blob[0] == 1  # version byte
    keys = keys_for(db, world["cd_handler"], case)
    assert reporter_text(case, keys) == ("Tiêu đề bí mật", "Nội dung bí mật")


def reporter_text(case, keys):
    from service.sealing.casefiles import open_text

    return (
        open_text(keys.case, case.id, "title", case.title_ct),
        open_text(keys.case, case.id, "text", case.text_ct),
    )


def test_a_field_sealed_for_one_case_does_not_open_as_another_case_or_field(db, world):
    first = db.get(Case, file_report(db, world).case.id)
    second = db.get(Case, file_report(db, world).case.id)
    keys = keys_for(db, world["cd_handler"], first)
    from service.sealing.casefiles import open_text

    with pytest.raises(SealingError):
        open_text(keys.case, second.id, "title", first.title_ct)
    with pytest.raises(SealingError):
        open_text(keys.case, first.id, "text", first.title_ct)


def test_the_receipt_is_sixteen_digits_and_is_not_stored(db, world, database_url):
    filed = file_report(db, world)
    assert len(filed.receipt) == 16 and filed.receipt.isdigit()
    case = db.get(Case, filed.case.id)
    assert filed.receipt.encode() not in case.lookup_id
    # The lookup id is what the receipt derives (and, tests/crypto: not Argon2id's raw output).
    derived = receipts.derive_reporter_keys(filed.receipt, world.organisation.receipt_salt, FAST)
    assert case.lookup_id == derived.lookup_id
    assert case.reporter_public_key == derived.public_key


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        (CaseKind.SUGGESTION, "CD"),
        (CaseKind.PROBLEM, "CD"),
        (CaseKind.MISCONDUCT, "CD"),
        (CaseKind.COMPLAINT, "TTND"),
        (CaseKind.DENUNCIATION, "TTND"),
    ],
)
def test_letting_the_system_choose_routes_by_kind(db, world, kind, body):
    case = file_report(db, world, kind=kind, identity=Identity("A", "B", "C")).case
    assert case.body.code == body


def test_the_reporter_may_choose_the_body(db, world):
    case = file_report(db, world, kind=CaseKind.COMPLAINT, body_id=world.cd.id).case
    assert case.body_id == world.cd.id


def test_an_unknown_body_is_refused(db, world):
    with pytest.raises(InvalidSubmission):
        file_report(db, world, body_id=999_999)


def test_only_the_handlers_of_the_receiving_body_get_keys(db, world):
    case = db.get(Case, file_report(db, world).case.id)
    assert keys_for(db, world["cd_handler"], case).case
    assert keys_for(db, world["cd_chair"], case).case
    for outsider in ("ttnd_chair", "ttnd_handler"):
        with pytest.raises(KeyUnavailable):
            keys_for(db, world[outsider], case)
        with pytest.raises(NotFound):
            handler_case_view(db, world[outsider].principal(), case.id)


def test_an_excluded_handler_gets_no_wrap_and_cannot_decrypt_even_from_the_database(db, world):
    excluded = world["cd_handler"]
    case = db.get(
        Case, file_report(db, world, excluded_account_ids=frozenset({excluded.account.id})).case.id
    )
    assert not db.scalars(
        select(CaseKeyWrap).where(
            CaseKeyWrap.case_id == case.id, CaseKeyWrap.account_id == excluded.account.id
        )
    ).all()
    # With direct database access, their private key opens none of the case's wraps.
    for wrap in db.scalars(select(CaseKeyWrap).where(CaseKeyWrap.case_id == case.id)):
        with pytest.raises(SealingError):
            keyring.unwrap_case_key(excluded.private_key(), wrap.wrapped, case.id, wrap.purpose)
    with pytest.raises(NotFound):
        handler_case_view(db, excluded.principal(), case.id)
    assert keys_for(db, world["cd_chair"], case).case  # the others still can


def test_exclusions_are_sealed_for_the_handlers_and_name_no_one_in_plaintext(db, world):
    excluded = world["cd_handler"].account.id
    case = db.get(Case, file_report(db, world, excluded_account_ids=frozenset({excluded})).case.id)
    keys = keys_for(db, world["cd_chair"], case)
    from service.sealing.casefiles import open_json

    assert open_json(keys.staff, case.id, "exclusions", case.exclusions_ct) == [excluded]


def test_excluding_someone_who_is_not_a_handler_is_refused(db, world):
    with pytest.raises(InvalidSubmission):
        file_report(db, world, excluded_account_ids=frozenset({424242}))


def test_a_named_reporters_identity_opens_only_for_the_chair_and_the_recovery_key(db, world):
    identity = Identity("Nguyễn Văn A", "Phòng Hành chính", "0905 000 000")
    case = db.get(Case, file_report(db, world, identity=identity).case.id)
    assert b"Nguy" not in case.identity_ct
    chair_view = handler_case_view(db, world["cd_chair"].principal(), case.id)
    assert chair_view.identity == identity.as_dict()
    handler_view = handler_case_view(db, world["cd_handler"].principal(), case.id)
    assert handler_view.identity is None and handler_view.identity_withheld
    recovery_key = recovery.private_key_from_code(world.recovery_codes["CD"])
    assert keyring.open_case_keys_with_recovery(db, case, recovery_key).identity is not None


def test_the_recovery_key_opens_every_key_of_the_case(db, world):
    case = db.get(Case, file_report(db, world, identity=Identity("A", "", "B")).case.id)
    keys = keyring.open_case_keys_with_recovery(
        db, case, recovery.private_key_from_code(world.recovery_codes["CD"])
    )
    assert keys.case and keys.staff and keys.identity
    with pytest.raises(KeyUnavailable):  # the other body's recovery key opens nothing
        keyring.open_case_keys_with_recovery(
            db, case, recovery.private_key_from_code(world.recovery_codes["TTND"])
        )


def test_the_reporter_holds_the_case_key_but_neither_staff_nor_identity_key(db, world):
    filed = file_report(db, world, identity=Identity("A", "", "B"))
    access = open_case_with_receipt(db, world.organisation, filed.receipt)
    case = db.get(Case, access.case_id)
    keys = keyring.open_case_keys_for_reporter(db, case, access.private_key)
    assert keys.case and keys.staff is None and keys.identity is None


def test_an_anonymous_complaint_or_denunciation_follows_the_information_track(db, world):
    for kind in (CaseKind.COMPLAINT, CaseKind.DENUNCIATION):
        assert file_report(db, world, kind=kind).case.track == Track.INFORMATION
        named = file_report(db, world, kind=kind, identity=Identity("A", "", "B")).case
        assert named.track == Track.FORMAL
    assert file_report(db, world, kind=CaseKind.MISCONDUCT).case.track == Track.FORMAL


def test_references_count_per_body_and_year(db, world):
    refs = [file_report(db, world).case.reference for _ in range(3)]
    assert refs == ["CD-2026-0001", "CD-2026-0002", "CD-2026-0003"]
    assert file_report(db, world, body_id=world.ttnd.id).case.reference == "TTND-2026-0001"
    later = submit_case(
        db,
        world.organisation,
        Submission(kind=CaseKind.PROBLEM, title="t", text="x"),
        now=dt.datetime(2027, 1, 2, tzinfo=dt.UTC),
    )
    assert later.case.reference == "CD-2027-0001"


def test_a_filing_rolled_back_leaves_no_gap_and_no_stand_in_reference(db, world):
    """The number is taken in the filing's transaction (last, just before the commit): a filing
    that never commits gives it back, and the case's stand-in reference is never seen."""
    assert file_report(db, world).case.reference == "CD-2026-0001"
    lost = submit_case(
        db,
        world.organisation,
        Submission(
            kind=CaseKind.PROBLEM, title="t", text="x", attachments=[BytesUpload("a", b"1")]
        ),
        now=NOW,
    )
    assert lost.case.reference == "CD-2026-0002"
    db.rollback()  # as a failed request would
    assert file_report(db, world).case.reference == "CD-2026-0002"
    references = set(db.scalars(select(Case.reference)))
    assert references == {"CD-2026-0001", "CD-2026-0002"}
    events = db.scalars(select(AuditEvent).where(AuditEvent.action == "case.submitted")).all()
    assert sorted(e.details for e in events) == [
        '{"attachments":0,"reference":"CD-2026-0001"}',
        '{"attachments":0,"reference":"CD-2026-0002"}',
    ]


def test_dates_are_kept_to_the_day_in_the_local_calendar(db, world):
    late_evening = dt.datetime(2026, 11, 27, 18, 30, tzinfo=dt.UTC)  # 01:30 on the 28th locally
    case = submit_case(
        db,
        world.organisation,
        Submission(kind=CaseKind.PROBLEM, title="t", text="x"),
        now=late_evening,
    ).case
    assert case.received_on == dt.date(2026, 11, 28)
    assert case.acknowledge_due == dt.date(2026, 12, 11)  # 10 working days: two weekends skipped


def test_filing_writes_one_audit_event_without_the_time_of_day(db, world):
    case = file_report(db, world).case
    events = db.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id)).all()
    assert [(e.action, e.actor_role, e.actor_id, e.occurred_at) for e in events] == [
        ("case.submitted", "reporter", None, None)
    ]
    assert events[0].occurred_on == dt.date(2026, 11, 27)


def test_filing_notifies_exactly_the_handlers_who_can_read_it(db, world):
    excluded = world["cd_handler"].account.id
    file_report(db, world, excluded_account_ids=frozenset({excluded}))
    recipients = db.scalars(select(OutboxMessage.recipient)).all()
    assert recipients == [world["cd_chair"].email]


def test_attachments_are_sealed_in_chunks_and_read_back_intact(db, world, app):
    data = bytes(range(256)) * 1000 + b"tail"  # several STREAM chunks
    filed = file_report(db, world, attachments=[BytesUpload("ảnh chụp.jpg", data, "image/jpeg")])
    attachment = db.scalars(select(Attachment).where(Attachment.case_id == filed.case.id)).one()
    assert attachment.chunk_count == -(-len(data) // CHUNK_SIZE)
    from service.cases.casework import open_attachment_for_handler
    from service.platform.db import get_database

    staff = world["cd_handler"]
    info, chunks = open_attachment_for_handler(
        db,
        staff.principal(),
        filed.case.id,
        attachment_id=attachment.id,
        read_session=get_database(app).read_sessionmaker,
    )
    assert (info.name, info.content_type, info.size) == ("ảnh chụp.jpg", "image/jpeg", len(data))
    assert b"".join(chunks) == data


def test_a_failure_midway_leaves_no_trace_of_the_report(db, world):
    class BrokenUpload(BytesUpload):
        def iter_chunks(self):
            yield b"x" * 70_000
            raise OSError("the connection dropped")

    with pytest.raises(OSError, match="the connection dropped"):
        file_report(db, world, attachments=[BrokenUpload("a", b"")])
    db.rollback()
    for model in (Case, CaseKeyWrap, Attachment, AuditEvent, OutboxMessage):
        if model is AuditEvent:
            assert (
                db.scalar(
                    select(func.count()).select_from(model).where(model.action == "case.submitted")
                )
                == 0
            )
        else:
            assert db.scalar(select(func.count()).select_from(model)) == 0


def test_the_reporter_reads_the_reply_with_the_receipt_alone(db, world):
    filed = file_report(db, world)
    staff = world["cd_handler"]
    reply_to_reporter(db, staff.principal(), filed.case.id, text="Đã nhận, cảm ơn")
    access = open_case_with_receipt(db, world.organisation, filed.receipt)
    view = reporter_case_view(db, access)
    assert [(m.author, m.text) for m in view.messages] == [("staff", "Đã nhận, cảm ơn")]
    assert view.messages[0].author_name is None  # the reporter is not told which handler


def test_a_reporter_message_is_sealed_and_reaches_the_handlers(db, world):
    filed = file_report(db, world)
    access = open_case_with_receipt(db, world.organisation, filed.receipt)
    add_reporter_message(db, access, "Bổ sung", [BytesUpload("b.pdf", b"%PDF-1.7 ...")], now=NOW)
    staff = world["cd_chair"]
    view = handler_case_view(db, staff.principal(), filed.case.id)
    assert [(m.author, m.text, m.sent_at) for m in view.messages] == [("reporter", "Bổ sung", None)]
    assert [a.name for a in view.messages[0].attachments] == ["b.pdf"]


@pytest.mark.parametrize(
    "entered",
    ["0000 0000 0000 0000", "12345", "abcd efgh ijkl mnop", "", "1234 5678 9012 34567"],
)
def test_a_wrong_or_malformed_receipt_gets_the_same_refusal(db, world, entered):
    file_report(db, world)
    with pytest.raises(ReceiptRejected) as refused:
        open_case_with_receipt(db, world.organisation, entered)
    assert refused.value.status_code == 403


def test_checking_a_receipt_costs_one_derivation_right_or_wrong(db, world, monkeypatch):
    filed = file_report(db, world)
    calls = []
    original = receipts.derive_reporter_keys

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(receipts, "derive_reporter_keys", counting)
    open_case_with_receipt(db, world.organisation, receipts.format_receipt(filed.receipt))
    with pytest.raises(ReceiptRejected):
        open_case_with_receipt(db, world.organisation, "not a receipt")
    with pytest.raises(ReceiptRejected):
        open_case_with_receipt(db, world.organisation, "1111 2222 3333 4444")
    assert len(calls) == 3
