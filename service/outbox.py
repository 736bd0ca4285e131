"""Writing mail to the outbox. Delivery is `flask --app wsgi outbox send` (service/mailer.py).

Mail is rendered from templates/mail/<name>.txt and .html, Vietnamese first with English below.
Notifications say only that something happened and link to the site: the templates get no case
content, no kind or category of a case, nothing about a reporter.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from flask import current_app, render_template
from sqlalchemy.orm import Session

from .clock import next_slot, start_of_local_day, utcnow
from .models import OutboxMessage, OutboxStatus


def _message_id() -> str:
    sender = current_app.config.get("MAIL_DEFAULT_SENDER") or "homthu@localhost"
    domain = sender.rsplit("@", 1)[-1].strip("> ") or "localhost"
    return f"<{secrets.token_hex(16)}@{domain}>"


def enqueue_mail(
    db: Session,
    *,
    organisation_id: int,
    recipient: str,
    template: str,
    context: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
    reporter_action: bool = False,
) -> OutboxMessage:
    """Render mail `template` and add it to the outbox (the caller commits with its change).

    Mail caused by a reporter's action is dated to the day and held until the next delivery
    slot (NOTIFY_HOURS), so the outbox records no precise time of what a reporter did.
    """
    now = now or utcnow()
    created_at, send_from = now, now
    if reporter_action:
        created_at = start_of_local_day(now)
        send_from = next_slot(now, current_app.config["NOTIFY_HOURS"])
    context = {"base_url": current_app.config["PUBLIC_BASE_URL"], **(context or {})}
    subject = render_template(f"mail/{template}.subject.txt", **context).strip()
    message = OutboxMessage(
        organisation_id=organisation_id,
        message_id=_message_id(),
        recipient=recipient,
        subject=subject,
        text_body=render_template(f"mail/{template}.txt", **context),
        html_body=render_template(f"mail/{template}.html", **context),
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=send_from,
        created_at=created_at,
    )
    db.add(message)
    return message
