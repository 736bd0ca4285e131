"""Reading a case and talking about it: the reporter's follow-up and the handler's side.

Access is checked twice. The domain check here refuses anyone outside the case's body or without
a key wrap (and answers "not found", so nobody learns a case exists). Then the keys refuse: the
content opens only with a wrap unwrapped by the reader's own private key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.trail import Actor, record_event
from service.cases.readers import case_readers
from service.mail.outbox import enqueue_mail, enqueue_reporter_notice
from service.models import (
    Account,
    Attachment,
    Author,
    Case,
    Message,
    MessageKind,
    Organisation,
)
from service.people.principal import Principal
from service.people.sessions import ReporterAccess
from service.platform.clock import local_today, utcnow
from service.platform.errors import (
    InvalidSubmission,
    KeyUnavailable,
    NotFound,
    ReadOnlyAccess,
    ReceiptRejected,
)
from service.sealing import keyring, receipts
from service.sealing.casefiles import (
    AttachmentInfo,
    Upload,
    attachment_info,
    iter_attachment,
    message_field,
    open_json,
    open_text,
    seal_text,
    store_attachment,
)

# Derived when a malformed receipt is entered, so it costs the same as a well-formed one.
_DUMMY_RECEIPT = "0" * receipts.RECEIPT_DIGITS


@dataclass(frozen=True)
class MessageView:
    id: int
    author: str
    kind: str
    author_name: str | None
    sent_on: dt.date
    sent_at: dt.datetime | None
    text: str
    attachments: list[AttachmentInfo] = field(default_factory=list)


@dataclass(frozen=True)
class CaseView:
    """A case as its reader sees it, decrypted with the reader's own keys."""

    case: Case
    title: str
    text: str
    attachments: list[AttachmentInfo]
    messages: list[MessageView]
    identity: dict[str, str] | None = None
    identity_withheld: bool = False  # named, but the identity is in the chair's custody

    @property
    def open_questions(self) -> list[MessageView]:
        """Questions to the reporter that they have not answered yet (nothing written since)."""
        waiting: list[MessageView] = []
        for message in self.messages:
            if message.author == Author.REPORTER:
                waiting = []
            elif message.kind == MessageKind.QUESTION:
                waiting.append(message)
        return waiting


# --- reporter ------------------------------------------------------------------------------


def open_case_with_receipt(
    db: Session, organisation: Organisation, receipt_text: str
) -> ReporterAccess:
    """One Argon2id derivation, right or wrong: ReceiptRejected says nothing more."""
    receipt = receipts.normalise_receipt(receipt_text)
    profile = receipts.receipt_profile(organisation)
    keys = receipts.derive_reporter_keys(
        receipt or _DUMMY_RECEIPT, organisation.receipt_salt, profile
    )
    case = db.execute(
        select(Case).where(
            Case.organisation_id == organisation.id, Case.lookup_id == keys.lookup_id
        )
    ).scalar_one_or_none()
    if receipt is None or case is None:
        raise ReceiptRejected()
    return ReporterAccess(case.id, keys.private_key)


def reporter_case(db: Session, access: ReporterAccess) -> tuple[Case, keyring.CaseKeys]:
    """The reporter's case and the key their receipt opens; NotFound if it opens nothing."""
    case = db.get(Case, access.case_id)
    if case is None:
        raise NotFound()
    try:
        return case, keyring.open_case_keys_for_reporter(db, case, access.private_key)
    except KeyUnavailable:
        raise NotFound() from None


def reporter_case_view(db: Session, access: ReporterAccess) -> CaseView:
    case, keys = reporter_case(db, access)
    return _case_view(db, case, keys, staff_names=False)


def add_reporter_message(
    db: Session,
    access: ReporterAccess,
    text: str,
    uploads: Sequence[Upload] = (),
    now: dt.datetime | None = None,
) -> Message:
    """The reporter adds information or answers a question, with files if any."""
    now = now or utcnow()
    case, keys = reporter_case(db, access)
    message = add_message(
        db, case, keys, author=Author.REPORTER, account=None, text=text, now=now, uploads=uploads
    )
    record_event(
        db,
        organisation_id=case.organisation_id,
        action="case.reporter_message",
        actor=Actor.reporter(),
        case_id=case.id,
        details={"attachments": len(uploads)},
        now=now,
    )
    for account in _to_tell_of_reporter_message(db, case):
        enqueue_mail(
            db,
            organisation_id=case.organisation_id,
            recipient=account.email,
            template="reporter_message",
            now=now,
            reporter_action=True,
        )
    db.flush()
    return message


def _to_tell_of_reporter_message(db: Session, case: Case) -> list[Account]:
    """The assignee, if the case has one who can still read it; otherwise every reader."""
    readers = case_readers(db, case)
    assignee = [account for account in readers if account.id == case.assignee_id]
    return assignee or readers


# --- handlers ------------------------------------------------------------------------------


def handler_case(db: Session, account: Account, case_id: str) -> Case:
    """The domain check for reading: an active handler of the organisation holding a wrap of
    the case (the handlers of its body, or one who kept access when transferring it), else
    NotFound, so nobody learns that a case they may not see exists."""
    case = db.get(Case, case_id) if looks_like_case_id(case_id) else None
    if (
        case is None
        or not account.active
        or not account.is_handler
        or case.organisation_id != account.organisation_id
        or not keyring.has_wrap(db, case.id, account.id)
    ):
        raise NotFound()
    return case


def acting_case(db: Session, account: Account, case_id: str) -> Case:
    """The domain check for acting on a case: read access, and a member of the case's body."""
    case = handler_case(db, account, case_id)
    if case.body_id != account.body_id:
        raise ReadOnlyAccess()
    return case


def looks_like_case_id(case_id: str) -> bool:
    return len(case_id) == 32 and all(c in "0123456789abcdef" for c in case_id)


def _handler_keys(
    db: Session, principal: Principal, case_id: str, *, acting: bool = False
) -> tuple[Case, keyring.CaseKeys]:
    case = (acting_case if acting else handler_case)(db, principal.account, case_id)
    return case, keyring.open_case_keys_for_account(
        db, case, principal.account, principal.private_key
    )


def handler_case_view(
    db: Session, principal: Principal, case_id: str, *, now: dt.datetime | None = None
) -> CaseView:
    """Decrypt a case for a handler and record that they read it."""
    return read_case(db, principal, case_id, now=now)[0]


def read_case(
    db: Session, principal: Principal, case_id: str, *, now: dt.datetime | None = None
) -> tuple[CaseView, keyring.CaseKeys]:
    """The case's view and its opened keys (unwrapped once, for the caller to reuse); the
    "case.viewed" event goes in the caller's transaction."""
    case, keys = _handler_keys(db, principal, case_id)
    view = _case_view(db, case, keys, staff_names=True)
    record_event(
        db,
        organisation_id=case.organisation_id,
        action="case.viewed",
        actor=Actor.staff(principal.account),
        case_id=case.id,
        now=now,
    )
    return view, keys


def reply_to_reporter(
    db: Session,
    principal: Principal,
    case_id: str,
    *,
    text: str,
    now: dt.datetime | None = None,
    kind: MessageKind = MessageKind.MESSAGE,
) -> Message:
    """A handler's reply, or a question asking the reporter for more information: sealed under
    the case key, readable by the reporter and the handlers."""
    if kind not in (MessageKind.MESSAGE, MessageKind.QUESTION):
        raise InvalidSubmission()
    return _write(db, principal, case_id, text=text, kind=kind, now=now)


def add_note(
    db: Session,
    principal: Principal,
    case_id: str,
    *,
    text: str,
    now: dt.datetime | None = None,
) -> Message:
    """An internal note of the handlers, sealed under the STAFF key: never shown to the
    reporter, whose receipt opens only the CASE key."""
    return _write(db, principal, case_id, text=text, kind=MessageKind.NOTE, now=now)


_WRITTEN = {
    MessageKind.MESSAGE: "case.replied",
    MessageKind.QUESTION: "case.question_asked",
    MessageKind.NOTE: "case.note_added",
}


def _write(
    db: Session,
    principal: Principal,
    case_id: str,
    *,
    text: str,
    kind: MessageKind,
    now: dt.datetime | None,
) -> Message:
    if not text.strip():
        raise InvalidSubmission()
    now = now or utcnow()
    case, keys = _handler_keys(db, principal, case_id, acting=True)
    message = add_message(
        db,
        case,
        keys,
        author=Author.STAFF,
        account=principal.account,
        text=text,
        now=now,
        kind=kind,
    )
    record_event(
        db,
        organisation_id=case.organisation_id,
        action=_WRITTEN[kind],
        actor=Actor.staff(principal.account),
        case_id=case.id,
        now=now,
    )
    db.flush()
    return message


def open_attachment_for_handler(
    db: Session,
    principal: Principal,
    case_id: str,
    *,
    attachment_id: str,
    read_session: Callable[[], Session],
) -> tuple[AttachmentInfo, Iterator[bytes]]:
    """The file's details and its decrypted content as a stream of chunks (read lazily)."""
    case, keys = _handler_keys(db, principal, case_id)
    attachment = db.get(Attachment, attachment_id) if looks_like_case_id(attachment_id) else None
    if attachment is None or attachment.case_id != case.id:
        raise NotFound()
    info = attachment_info(attachment, keys.case)
    record_event(
        db,
        organisation_id=case.organisation_id,
        action="attachment.downloaded",
        actor=Actor.staff(principal.account),
        case_id=case.id,
        details={"attachment": attachment.id},
    )
    return info, iter_attachment(read_session, attachment, keys.case)


# --- shared --------------------------------------------------------------------------------


def add_message(
    db: Session,
    case: Case,
    keys: keyring.CaseKeys,
    *,
    author: Author,
    account: Account | None,
    text: str,
    now: dt.datetime,
    uploads: Sequence[Upload] = (),
    kind: MessageKind = MessageKind.MESSAGE,
) -> Message:
    """Seal a message (in the caller's transaction). Notes go under the STAFF key, the reporter's
    conversation under the CASE key; a reporter's message is dated to the day only.

    Anything a handler writes that the reporter can read (a reply, a question, a decision) sends
    the reporter's content-free notice, if they left an address."""
    today = local_today(now)
    key = keys.staff if kind == MessageKind.NOTE else keys.case
    if key is None:
        raise KeyUnavailable()
    message = Message(
        case_id=case.id,
        author=author,
        kind=kind,
        account_id=account.id if account else None,
        sent_on=today,
        sent_at=None if author == Author.REPORTER else now,
        body_ct=b"",
    )
    db.add(message)
    db.flush()  # the id is part of the associated data
    message.body_ct = seal_text(key, case.id, message_field(message.id), text)
    start = db.scalar(select(func.count()).where(Attachment.case_id == case.id)) or 0
    for offset, upload in enumerate(uploads):
        store_attachment(
            db,
            case_id=case.id,
            case_key=keys.case,
            upload=upload,
            author=author,
            position=start + offset,
            uploaded_on=today,
            message_id=message.id,
        )
    if author == Author.STAFF and kind != MessageKind.NOTE:
        notify_reporter(db, case, keys, now)
    return message


NOTIFY_EMAIL_FIELD = "notify_email"


def notify_reporter(db: Session, case: Case, keys: keyring.CaseKeys, now: dt.datetime) -> None:
    """Queue "there is a reply" to the address the reporter left, if any (no commit).

    The address is opened with the case key the handler's session holds; the outbox keeps it
    sealed and erases it after delivery. The notice says nothing about the case.
    """
    if case.notify_email_ct is None:
        return
    address = open_text(keys.case, case.id, NOTIFY_EMAIL_FIELD, case.notify_email_ct)
    enqueue_reporter_notice(
        db,
        organisation_id=case.organisation_id,
        address=address,
        template="reporter_notice",
        now=now,
    )


def _case_view(db: Session, case: Case, keys: keyring.CaseKeys, *, staff_names: bool) -> CaseView:
    # Queried, not read from relationships: a collection loaded earlier in the session is stale.
    stored = db.scalars(
        select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.position)
    )
    attachments = [attachment_info(a, keys.case) for a in stored]
    by_message: dict[int | None, list[AttachmentInfo]] = {}
    for info in attachments:
        by_message.setdefault(info.message_id, []).append(info)
    query = select(Message).where(Message.case_id == case.id).order_by(Message.id)
    if keys.staff is None:  # the reporter: internal notes are neither shown nor openable
        query = query.where(Message.kind != MessageKind.NOTE)
    messages = [
        MessageView(
            id=m.id,
            author=m.author,
            kind=m.kind,
            author_name=m.account.display_name if staff_names and m.account else None,
            sent_on=m.sent_on,
            sent_at=m.sent_at if staff_names else None,
            text=open_text(
                # Notes are queried only when keys.staff is set (above).
                keys.staff if m.kind == MessageKind.NOTE else keys.case,  # type: ignore[arg-type]
                case.id,
                message_field(m.id),
                m.body_ct,
            ),
            attachments=by_message.get(m.id, []),
        )
        for m in db.scalars(query)
    ]
    identity = None
    if case.identity_ct is not None and keys.identity is not None:
        identity = open_json(keys.identity, case.id, "identity", case.identity_ct)
    return CaseView(
        case=case,
        title=open_text(keys.case, case.id, "title", case.title_ct),
        text=open_text(keys.case, case.id, "text", case.text_ct),
        attachments=by_message.get(None, []),
        messages=messages,
        identity=identity,
        identity_withheld=case.identity_ct is not None and keys.identity is None,
    )
