"""Writing mail to the outbox. Delivery is `flask --app wsgi outbox send`
(service/mail/delivery.py).

Mail is rendered from templates/mail/<name>.txt and .html, Vietnamese first with English below.
Notifications say only that something happened and link to the site: the templates get no case
content, no kind or category of a case, nothing about a reporter.

A notice to an address a reporter left is different: the address is something a person wrote, so
the row's `recipient` says only "reporter" and the address itself is sealed under a key derived
from SECRET_KEY (which is not in the database); the mailer erases it once the row is sent or has
failed for good. Mail that carries a secret link (an invitation, a password reset) is sealed the
same way, bodies and all, so a copy of the database does not hand out accounts.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from typing import Any

from flask import render_template
from sqlalchemy.orm import Session

from service.models import OutboxMessage, OutboxStatus
from service.platform.clock import next_slot, start_of_local_day, utcnow
from service.platform.settings import MAIL_SESSION_INFO, MailSettings
from service.sealing import server


def mail_settings(db: Session) -> MailSettings:
    """The settings this adapter writes mail with: carried by the session it writes to (every
    session of the application has them; see service/platform/settings.py)."""
    try:
        return db.info[MAIL_SESSION_INFO]
    except KeyError:
        raise RuntimeError("this session carries no mail settings: use get_database()") from None


def _message_id(sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1].strip("> ") or "localhost"
    return f"<{secrets.token_hex(16)}@{domain}>"


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text_body: str
    html_body: str
    template: str = ""  # its name, kept with the row (the list of failed mail shows it)


def render_mail(
    template: str, context: dict[str, Any] | None = None, *, base_url: str
) -> RenderedMail:
    """Render mail `template` once; the same content may go to several recipients."""
    context = {"base_url": base_url, **(context or {})}
    return RenderedMail(
        subject=render_template(f"mail/{template}.subject.txt", **context).strip(),
        text_body=render_template(f"mail/{template}.txt", **context),
        html_body=render_template(f"mail/{template}.html", **context),
        template=template,
    )


def enqueue_mail(
    db: Session,
    *,
    organisation_id: int,
    recipient: str,
    template: str,
    context: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
    reporter_action: bool = False,
    carries_secret: bool = False,
) -> OutboxMessage:
    """Render mail `template` and add it to the outbox (in the transaction of its change).

    `carries_secret`: the bodies hold a link that grants something; they are stored sealed.
    """
    message = enqueue_rendered(
        db,
        organisation_id=organisation_id,
        recipient=recipient,
        mail=render_mail(template, context, base_url=mail_settings(db).public_base_url),
        now=now,
        reporter_action=reporter_action,
    )
    if carries_secret:
        bodies = {"text": message.text_body, "html": message.html_body}
        message.body_sealed = _seal(message, "body", json.dumps(bodies).encode())
        message.text_body, message.html_body = SEALED_BODY, None
    return message


def enqueue_rendered(
    db: Session,
    *,
    organisation_id: int,
    recipient: str,
    mail: RenderedMail,
    now: dt.datetime | None = None,
    reporter_action: bool = False,
) -> OutboxMessage:
    """Add rendered mail to the outbox (in the transaction of its change).

    Mail caused by a reporter's action is dated to the day and held until the next delivery
    slot (NOTIFY_HOURS), so the outbox records no precise time of what a reporter did.
    """
    now = now or utcnow()
    settings = mail_settings(db)
    created_at, send_from = now, now
    if reporter_action:
        created_at = start_of_local_day(now)
        send_from = next_slot(now, settings.notify_hours)
    message = OutboxMessage(
        organisation_id=organisation_id,
        message_id=_message_id(settings.sender),
        recipient=recipient,
        template=mail.template,
        subject=mail.subject,
        text_body=mail.text_body,
        html_body=mail.html_body,
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=send_from,
        created_at=created_at,
    )
    db.add(message)
    return message


REPORTER_RECIPIENT = "reporter"
SEALED_BODY = "(sealed until delivery)"
ERASED_BODY = "(erased after delivery)"


def _seal(message: OutboxMessage, field: str, value: bytes) -> bytes:
    return server.seal_outbox_field(
        server.server_secret_of(message), message.message_id, field, value
    )


def _open(message: OutboxMessage, field: str, sealed: bytes) -> bytes:
    return server.open_outbox_field(
        server.server_secret_of(message), message.message_id, field, sealed
    )


def enqueue_reporter_notice(
    db: Session,
    *,
    organisation_id: int,
    address: str,
    template: str,
    now: dt.datetime | None = None,
) -> OutboxMessage:
    """A content-free notice to an address a reporter left; the address is stored sealed."""
    message = enqueue_mail(
        db,
        organisation_id=organisation_id,
        recipient=REPORTER_RECIPIENT,
        template=template,
        now=now,
    )
    message.recipient_sealed = _seal(message, "recipient", address.encode("utf-8"))
    return message


def delivery_address(message: OutboxMessage) -> str:
    """Where the row goes: its recipient, or the sealed address of a reporter's notice.

    Raises SealingError if the sealed address cannot be opened (SECRET_KEY changed).
    """
    if message.recipient_sealed is None:
        return message.recipient
    return _open(message, "recipient", message.recipient_sealed).decode("utf-8")


def delivery_bodies(message: OutboxMessage) -> tuple[str, str | None]:
    """The text and HTML bodies to send, unsealed if the row carries a secret.

    Raises SealingError if the sealed bodies cannot be opened (SECRET_KEY changed).
    """
    if message.body_sealed is None:
        return message.text_body, message.html_body
    bodies = json.loads(_open(message, "body", message.body_sealed))
    return bodies["text"], bodies["html"]


def erase_sealed(message: OutboxMessage) -> None:
    """A row that will not be sent again keeps neither a reporter's address nor a secret."""
    message.recipient_sealed = None
    if message.body_sealed is not None:
        message.body_sealed = None
        message.text_body, message.html_body = ERASED_BODY, None
